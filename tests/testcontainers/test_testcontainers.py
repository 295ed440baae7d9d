"""testcontainers-python against `berth serve`, as a project's integration tests use it: a
throwaway container with a published port, waited for by its log, reached from the test and
removed afterwards. Run by crates/cli/tests/api_testcontainers.rs with DOCKER_HOST at a
server of its own (Ryuk, the reaper container, is off: its image is not on this machine)."""

import time
import unittest
import urllib.request

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy


class BusyboxHttpdTest(unittest.TestCase):
    def test_a_throwaway_web_server(self):
        with DockerContainer("busybox").with_command(
            ["sh", "-c", "mkdir /www && echo tc-ok > /www/index.html && "
             "echo serving && httpd -f -p 80 -h /www"]
        ).with_exposed_ports(80).waiting_for(LogMessageWaitStrategy("serving")) as ctr:
            host = ctr.get_container_host_ip()
            port = ctr.get_exposed_port(80)
            body = b""
            for _ in range(50):
                try:
                    body = urllib.request.urlopen(f"http://{host}:{port}/", timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.1)
            self.assertEqual(body, b"tc-ok\n")
            code, out = ctr.exec(["cat", "/www/index.html"])
            self.assertEqual((code, out), (0, b"tc-ok\n"))
            name = ctr.get_wrapped_container().name
        client = ctr.get_docker_client().client
        self.assertEqual([c for c in client.containers.list(all=True) if c.name == name], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
