"""docker-py (the PyPI `docker` package) against `berth serve`, as a Python user would drive
Docker: run by crates/cli/tests/api_docker_py.rs with DOCKER_HOST pointing at a server of its
own and an image `busybox` imported. Plain unittest, so nothing but docker-py is needed."""

import io
import os
import tarfile
import time
import unittest

import docker
from docker.errors import APIError, ImageNotFound, NotFound


def ws_messages(ws, seconds=20):
    """A WebSocket's messages until it closes (or `seconds` pass)."""
    got = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            m = ws.recv()
        except Exception:
            break
        if not m:
            break
        got.append(m)
    return got


def client():
    return docker.from_env(version="auto", timeout=60)


class SystemTest(unittest.TestCase):
    def test_ping_version_info(self):
        c = client()
        self.assertTrue(c.ping())
        v = c.version()
        self.assertIn("ApiVersion", v)
        self.assertEqual(v["Os"], "linux")
        info = c.info()
        self.assertIn("Containers", info)
        self.assertGreaterEqual(info["Images"], 1)


class ContainerTest(unittest.TestCase):
    def setUp(self):
        self.c = client()

    def test_run_returns_output_and_raises_on_failure(self):
        out = self.c.containers.run("busybox", ["echo", "hello from berth"], remove=True)
        self.assertEqual(out, b"hello from berth\n")
        with self.assertRaises(docker.errors.ContainerError) as e:
            self.c.containers.run("busybox", ["sh", "-c", "echo oops >&2; exit 3"], remove=True)
        self.assertEqual(e.exception.exit_status, 3)
        self.assertIn(b"oops", e.exception.stderr)

    def test_detached_lifecycle(self):
        ctr = self.c.containers.run(
            "busybox",
            ["sh", "-c", "echo started; sleep 300"],
            detach=True,
            name="pylife",
            labels={"suite": "docker-py"},
            environment={"KIWI": "1"},
        )
        try:
            ctr.reload()
            self.assertEqual(ctr.status, "running")
            self.assertEqual(ctr.labels["suite"], "docker-py")
            self.assertIn("KIWI=1", ctr.attrs["Config"]["Env"])
            listed = self.c.containers.list(filters={"label": "suite=docker-py"})
            self.assertEqual([x.name for x in listed], ["pylife"])
            deadline = time.time() + 10
            while b"started" not in ctr.logs() and time.time() < deadline:
                time.sleep(0.1)
            self.assertEqual(ctr.logs(), b"started\n")
            code, out = ctr.exec_run(["sh", "-c", "echo $KIWI; exit 4"])
            self.assertEqual((code, out), (4, b"1\n"))
            top = ctr.top()
            self.assertTrue(any("sleep" in " ".join(p) for p in top["Processes"]))
            ctr.pause()
            ctr.reload()
            self.assertEqual(ctr.status, "paused")
            ctr.unpause()
            stats = ctr.stats(stream=False)
            self.assertGreater(stats["memory_stats"]["usage"], 0)
            self.assertGreaterEqual(stats["pids_stats"]["current"], 1)
            self.assertIn("cpu_stats", stats)
            # Block I/O as dockerd reports it: a list of counters (or null ones).
            self.assertIsInstance(stats["blkio_stats"]["io_service_bytes_recursive"], list)
            self.assertIn("io_serviced_recursive", stats["blkio_stats"])
            ctr.update(mem_limit="48m", memswap_limit="96m", restart_policy={"Name": "unless-stopped"})
            ctr.reload()
            self.assertEqual(ctr.attrs["HostConfig"]["Memory"], 48 << 20)
            self.assertEqual(ctr.attrs["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped")
            self.assertEqual(ctr.stats(stream=False)["memory_stats"]["limit"], 48 << 20)
            ctr.rename("pylife2")
            ctr.reload()
            self.assertEqual(ctr.name, "pylife2")
            ctr.stop(timeout=1)
            self.assertEqual(ctr.wait()["StatusCode"], 137)
        finally:
            ctr.remove(force=True)
        with self.assertRaises(NotFound):
            self.c.containers.get("pylife2")

    def test_archives_in_and_out(self):
        ctr = self.c.containers.create("busybox", ["sleep", "300"])
        try:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as t:
                data = b"from python\n"
                info = tarfile.TarInfo("note.txt")
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            self.assertTrue(ctr.put_archive("/tmp", buf.getvalue()))
            stream, stat = ctr.get_archive("/tmp/note.txt")
            self.assertEqual(stat["name"], "note.txt")
            self.assertEqual(stat["size"], 12)
            got = io.BytesIO(b"".join(stream))
            with tarfile.open(fileobj=got) as t:
                self.assertEqual(t.extractfile("note.txt").read(), b"from python\n")
            kinds = {c["Path"]: c["Kind"] for c in ctr.diff()}
            self.assertEqual(kinds.get("/tmp/note.txt"), 1)
            with self.assertRaises(NotFound):
                ctr.get_archive("/no/such/file")
        finally:
            ctr.remove(force=True)

    def test_attach_socket_sees_output(self):
        ctr = self.c.containers.create("busybox", ["sh", "-c", "sleep 0.5; echo attached"])
        try:
            out = ctr.attach(stream=True, logs=True)
            ctr.start()
            got = b"".join(out)
            self.assertEqual(got, b"attached\n")
        finally:
            ctr.remove(force=True)

    def test_attach_websocket(self):
        """attach/ws: raw output (no stream frames) and input as messages; binary messages
        from API 1.42 on, text before."""
        tcp = os.environ.get("BERTH_TCP_HOST")
        if not tcp:
            self.skipTest("BERTH_TCP_HOST is not set")
        for version, kind in (("1.44", bytes), ("1.41", str)):
            api = docker.APIClient(base_url=tcp, version=version)
            ctr = self.c.containers.create(
                "busybox", ["sh", "-c", "read line; echo got $line; echo err >&2"], stdin_open=True
            )
            try:
                ws = api.attach_socket(
                    ctr.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}, ws=True
                )
                ctr.start()
                ws.send_binary(b"kiwi\n")
                got = ws_messages(ws)
                self.assertTrue(got and all(isinstance(m, kind) for m in got), (version, got))
                text = "".join(m.decode() if isinstance(m, bytes) else m for m in got)
                self.assertEqual(sorted(text.splitlines()), ["err", "got kiwi"])
                self.assertEqual(ctr.wait()["StatusCode"], 0)
            finally:
                ctr.remove(force=True)

    def test_an_exec_that_cannot_start_says_so_over_its_websocket(self):
        """berth's /exec/ID/start/ws (the dashboard's terminal): a command that cannot run
        is told in the stream, as the hijacked start tells it, and the exit code is 127."""
        tcp = os.environ.get("BERTH_TCP_HOST")
        if not tcp:
            self.skipTest("BERTH_TCP_HOST is not set")
        import websocket
        ctr = self.c.containers.run("busybox", "sleep 30", detach=True)
        try:
            ex = self.c.api.exec_create(ctr.id, ["/no/such/shell"], tty=True, stdin=True)
            url = tcp.replace("tcp://", "ws://") + f"/exec/{ex['Id']}/start/ws"
            ws = websocket.create_connection(url, timeout=10)
            got = b"".join(m if isinstance(m, bytes) else m.encode() for m in ws_messages(ws))
            self.assertIn(b"/no/such/shell", got)
            self.assertEqual(self.c.api.exec_inspect(ex["Id"])["ExitCode"], 127)
        finally:
            ctr.remove(force=True)

    def test_a_websocket_that_closes_ends_its_attachment(self):
        """A client closing its WebSocket to a quiet container: the server lets go of the
        attachment (its sockets) at once, not at the container's next output."""
        tcp = os.environ.get("BERTH_TCP_HOST")
        pid = os.environ.get("BERTH_SERVE_PID")
        if not tcp or not pid:
            self.skipTest("BERTH_TCP_HOST or BERTH_SERVE_PID is not set")
        def fds():
            # The server's sockets only: a file or inotify descriptor it opens meanwhile for
            # something else is not the attachment's.
            n = 0
            for f in os.listdir(f"/proc/{pid}/fd"):
                try:
                    n += os.readlink(f"/proc/{pid}/fd/{f}").startswith("socket:")
                except OSError:
                    pass  # closed between the listing and the look
            return n
        api = docker.APIClient(base_url=tcp, version="1.44")
        ctr = self.c.containers.run("busybox", ["sleep", "300"], detach=True)
        try:
            # The server's count once the run's own connections are closed and the
            # supervisor it keeps for the next start has been started: unchanged for half
            # a second.
            idle, since = fds(), time.time()
            settle_by = time.time() + 10
            while time.time() - since < 0.5 and time.time() < settle_by:
                time.sleep(0.05)
                n = fds()
                if n != idle:
                    idle, since = n, time.time()
            ws = api.attach_socket(ctr.id, params={"stdout": 1, "stream": 1}, ws=True)
            deadline = time.time() + 10
            while fds() < idle + 2 and time.time() < deadline:
                time.sleep(0.05)
            self.assertGreaterEqual(fds(), idle + 2, "the attachment holds two sockets")
            ws.close()
            while fds() > idle and time.time() < deadline:
                time.sleep(0.05)
            self.assertLessEqual(fds(), idle)
            self.assertEqual(self.c.containers.get(ctr.id).status, "running")
        finally:
            ctr.remove(force=True)

    def test_kill_waits_for_the_exit_and_exec_frames_follow_the_start(self):
        """kill without a signal returns once the exit is recorded; an exec made with a
        terminal but started with Tty false comes framed (dockerd's rule, which docker-py's
        exec_start relies on)."""
        ctr = self.c.containers.run("busybox", ["sleep", "300"], detach=True)
        try:
            api = self.c.api
            ex = api.exec_create(ctr.id, 'sh -c "echo hello out; echo hello err >&2"', tty=True)
            self.assertEqual(api.exec_start(ex), b"hello out\r\nhello err\r\n")
            ex = api.exec_create(ctr.id, 'sh -c "echo hello out"', tty=True)
            self.assertEqual(api.exec_start(ex, demux=True), (b"hello out\r\n", None))
            # A command that cannot run: its error in the stream and 127, as dockerd's.
            code, out = ctr.exec_run("non-existent")
            self.assertEqual(code, 127)
            self.assertIn(b"executable file not found", out)
            ctr.kill()
            state = api.inspect_container(ctr.id)["State"]
            self.assertEqual((state["Running"], state["ExitCode"]), (False, 137))
        finally:
            ctr.remove(force=True)

    def test_exec_detach_keys_from_the_config_file(self):
        """docker-py sends the config file's detachKeys with exec create; typing them on
        the exec's stream detaches, leaving the process running."""
        api = docker.APIClient(base_url=os.environ["DOCKER_HOST"])
        api._general_configs["detachKeys"] = "ctrl-p"
        ctr = self.c.containers.run("busybox", "cat", detach=True, stdin_open=True)
        try:
            ex = api.exec_create(ctr.id, "cat", stdin=True, tty=True, stdout=True)
            sock = api.exec_start(ex, tty=True, socket=True)
            raw = sock._sock
            raw.settimeout(10)
            raw.sendall(b"\x10")
            got = b""
            while True:
                chunk = raw.recv(4096)
                if not chunk:
                    break
                got += chunk
            sock.close()
            self.assertTrue(api.exec_inspect(ex)["Running"], "detached, not ended")
        finally:
            ctr.remove(force=True)

    def test_wait_then_remove_of_quick_containers(self):
        """A container that exits at once: wait gives its real exit code and a remove right
        after it (without force) finds it exited. (The record used to be read as abandoned,
        exit -1, when its monitor saved the exit and went between two looks, and the die
        event came before the record said exited.)"""
        api = self.c.api
        codes = []
        for _ in range(60):
            x = api.create_container("busybox", "sh -c 'exit 3'")
            api.start(x)
            codes.append(api.wait(x)["StatusCode"])
            api.remove_container(x)
        self.assertEqual(codes, [3] * 60)

    def test_host_config_fields_read_back_and_act(self):
        """HostConfig reads back as sent (Tmpfs, Init, Isolation, Runtime); GroupAdd, the
        host's PID and UTS namespaces and the none log driver do what Docker's do."""
        api = self.c.api
        hc = api.create_host_config(
            tmpfs={"/t1": "size=3M"}, init=True, isolation="default", group_add=[1000, "daemon"],
            pid_mode="host", uts_mode="host", cgroupns="host", log_config={"type": "none"},
        )
        x = api.create_container("busybox", ["sh", "-c", "id -G; hostname; echo pid=$$"],
                                 host_config=hc, runtime="runc")
        try:
            got = api.inspect_container(x)["HostConfig"]
            self.assertEqual(got["Tmpfs"], {"/t1": "size=3M"})
            self.assertEqual((got["Init"], got["Isolation"], got["Runtime"]), (True, "default", "runc"))
            self.assertEqual((got["PidMode"], got["UTSMode"], got["LogConfig"]["Type"]), ("host", "host", "none"))
            sock = api.attach_socket(x, params={"stdout": 1, "stderr": 1, "stream": 1})
            api.start(x)
            self.assertEqual(api.wait(x)["StatusCode"], 0)
            raw = b""
            while True:
                chunk = sock._sock.recv(4096)
                if not chunk:
                    break
                raw += chunk
            sock.close()
            text = raw.decode(errors="replace")
            groups = text.split("\n")[0]
            self.assertIn("1000", groups)
            self.assertIn("1", groups.split(), text)  # daemon
            self.assertIn(os.uname().nodename, text)
            pid = int(text.split("pid=")[1].split()[0])
            self.assertGreater(pid, 2, "the host's PID namespace, not the container's")
            with self.assertRaises(APIError) as e:
                api.logs(x)
            self.assertIn("does not support reading", str(e.exception))
        finally:
            api.remove_container(x, force=True)
        for bad in ({"isolation": "hyperv"}, {"pid_mode": "weird"}):
            with self.assertRaises(APIError) as e:
                api.create_container("busybox", "true", host_config=api.create_host_config(**bad))
            self.assertEqual(e.exception.status_code, 400)
        # Joining the PID namespace of a container that does not exist: Docker's 404.
        with self.assertRaises(APIError) as e:
            api.create_container("busybox", "true", host_config=api.create_host_config(
                pid_mode="container:nosuch"))
        self.assertEqual(e.exception.status_code, 404)
        self.assertIn("No such container: nosuch", str(e.exception))
        with self.assertRaises(APIError) as e:
            api.create_container("busybox", "true", host_config=api.create_host_config(
                log_config={"type": "asdf"}))
        self.assertIn("logger: no log driver named 'asdf' is registered", str(e.exception))

    def test_bad_requests_are_api_errors(self):
        with self.assertRaises(ImageNotFound):
            self.c.containers.create("no-such-image-here:1")
        with self.assertRaises(APIError) as e:
            self.c.api.create_container("busybox", host_config={"NoSuchField": 1})
        self.assertEqual(e.exception.status_code, 400)


class NetworkAndVolumeTest(unittest.TestCase):
    def setUp(self):
        self.c = client()

    def test_network_names_ipam_pools_and_no_swarm(self):
        """Docker's network names may have spaces; docker-py's IPAMPool sends null fields
        and AuxiliaryAddresses; swarm calls get dockerd's answer for a node outside one."""
        pool = docker.types.IPAMPool(subnet="10.231.5.0/24", gateway="10.231.5.1")
        net = self.c.networks.create("py net 01", ipam=docker.types.IPAMConfig(pool_configs=[pool]))
        try:
            net.reload()
            self.assertEqual(net.name, "py net 01")
            self.assertEqual(net.attrs["IPAM"]["Config"][0]["Subnet"], "10.231.5.0/24")
            # No IPAM options sent: null, as dockerd answers (the docker CLI sends {}).
            self.assertIsNone(net.attrs["IPAM"]["Options"])
        finally:
            net.remove()
        # MAC addresses: asked for at create and at connect, else Docker's from the IP.
        api = self.c.api
        x = api.create_container("busybox", ["sh", "-c", "cat /sys/class/net/eth*/address; sleep 30"],
                                 mac_address="02:42:ac:11:00:0a")
        net = self.c.networks.create("pymacnet")
        try:
            api.connect_container_to_network(x, net.id, mac_address="02:42:0a:00:00:99")
            # Asked for, it is configuration: inspect shows it before the start too.
            self.assertEqual(api.inspect_container(x)["NetworkSettings"]["Networks"]["pymacnet"]["MacAddress"],
                             "02:42:0a:00:00:99")
            api.start(x)
            info = api.inspect_container(x)["NetworkSettings"]
            self.assertEqual(info["MacAddress"], "02:42:ac:11:00:0a")
            self.assertEqual(info["Networks"]["pymacnet"]["MacAddress"], "02:42:0a:00:00:99")
            deadline = time.time() + 10
            while time.time() < deadline and b"99" not in api.logs(x):
                time.sleep(0.1)
            self.assertEqual(sorted(api.logs(x).split()), [b"02:42:0a:00:00:99", b"02:42:ac:11:00:0a"])
            # Aliases as API 1.45 on has them (null, the short ID among DNSNames), and as
            # older clients had them (the short ID).
            z = api.create_container("busybox", "true", networking_config=api.create_networking_config(
                {"pymacnet": api.create_endpoint_config()}), host_config=api.create_host_config(network_mode="pymacnet"))
            try:
                ep = api.inspect_container(z)["NetworkSettings"]["Networks"]["pymacnet"]
                self.assertIsNone(ep["Aliases"])
                old = docker.APIClient(base_url=os.environ["DOCKER_HOST"], version="1.44")
                self.assertEqual(old.inspect_container(z)["NetworkSettings"]["Networks"]["pymacnet"]["Aliases"],
                                 [z["Id"][:12]])
            finally:
                api.remove_container(z, force=True)
            y = self.c.containers.run("busybox", "sleep 30", detach=True)
            ip = y.attrs["NetworkSettings"]["IPAddress"] or api.inspect_container(y.id)["NetworkSettings"]["IPAddress"]
            want = "02:42:" + ":".join(f"{int(o):02x}" for o in ip.split("."))
            self.assertEqual(api.inspect_container(y.id)["NetworkSettings"]["MacAddress"], want)
            y.remove(force=True)
        finally:
            api.remove_container(x, force=True)
            net.remove()
        self.assertTrue(self.c.api.leave_swarm(force=True))
        with self.assertRaises(APIError) as e:
            self.c.api.inspect_swarm()
        self.assertEqual(e.exception.status_code, 503)
        self.assertIn("not a swarm manager", str(e.exception))

    def test_ipv6_networks(self):
        """EnableIPv6 with an IPv6 pool beside the IPv4 one: an address asked for at create
        and at connect (IPAMConfig.IPv6Address), and on the container's interface."""
        api = self.c.api
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(
            subnet="2001:db8:389::/64", iprange="2001:db8:389::/96", gateway="2001:db8:389::ffff")])
        net = self.c.networks.create("py6net", enable_ipv6=True, ipam=ipam)
        try:
            net.reload()
            self.assertTrue(net.attrs["EnableIPv6"])
            subnets = [c["Subnet"] for c in net.attrs["IPAM"]["Config"]]
            self.assertIn("2001:db8:389::/64", subnets)
            self.assertEqual(len(subnets), 2, "an IPv4 pool is made beside it")
            x = api.create_container("busybox", ["sh", "-c", "ip -6 addr show dev eth0; sleep 30"],
                                     host_config=api.create_host_config(network_mode="py6net"),
                                     networking_config=api.create_networking_config({
                                         "py6net": api.create_endpoint_config(ipv6_address="2001:db8:389::f00d")}))
            try:
                api.start(x)
                ep = api.inspect_container(x)["NetworkSettings"]["Networks"]["py6net"]
                self.assertEqual(ep["IPAMConfig"]["IPv6Address"], "2001:db8:389::f00d")
                self.assertEqual(ep["GlobalIPv6Address"], "2001:db8:389::f00d")
                deadline = time.time() + 10
                while time.time() < deadline and b"f00d" not in api.logs(x):
                    time.sleep(0.1)
                self.assertIn(b"2001:db8:389::f00d/64", api.logs(x))
                y = api.create_container("busybox", "sleep 30")
                try:
                    api.connect_container_to_network(y, "py6net", ipv6_address="2001:db8:389::beef")
                    ep = api.inspect_container(y)["NetworkSettings"]["Networks"]["py6net"]
                    self.assertEqual(ep["IPAMConfig"]["IPv6Address"], "2001:db8:389::beef")
                    api.start(y)
                    ex = api.exec_create(y, ["ping6", "-c", "1", "-W", "3", "2001:db8:389::f00d"])
                    out = api.exec_start(ex)
                    self.assertEqual(api.exec_inspect(ex)["ExitCode"], 0, out)
                finally:
                    api.remove_container(y, force=True)
            finally:
                api.remove_container(x, force=True)
        finally:
            net.remove()

    def test_network_by_name(self):
        net = self.c.networks.create("pynet", labels={"suite": "docker-py"})
        try:
            server = self.c.containers.run(
                "busybox", ["sleep", "300"], detach=True, name="pyserver", network="pynet"
            )
            try:
                out = self.c.containers.run(
                    "busybox", ["ping", "-c", "1", "-W", "3", "pyserver"],
                    network="pynet", remove=True,
                )
                self.assertIn(b"1 packets received", out)
                net.reload()
                self.assertIn(server.id, net.attrs["Containers"])
            finally:
                server.remove(force=True)
        finally:
            net.remove()
        self.assertEqual(self.c.networks.list(names=["pynet"]), [])

    def test_links_legacy_and_network_scoped(self):
        """HostConfig.Links on the default bridge (environment, `rm` of the link name) and
        an endpoint's Links on a user network (the alias resolves for that container)."""
        api = self.c.api
        db = self.c.containers.run("busybox", "sleep 60", detach=True, environment={"FOO": "1"})
        try:
            db_name = api.inspect_container(db.id)["Name"][1:]
            app = api.create_container("busybox", "env", host_config=api.create_host_config(
                links={db_name: "mylink1"}, network_mode="bridge"))
            api.start(app)
            self.assertEqual(api.wait(app)["StatusCode"], 0)
            logs = api.logs(app).decode()
            self.assertIn("MYLINK1_ENV_FOO=1", logs)
            self.assertIn("MYLINK1_NAME=/", logs)
            app_name = api.inspect_container(app)["Name"][1:]
            link = f"{app_name}/mylink1"
            self.assertIn("/" + link, [n for c in api.containers(all=True) for n in c["Names"]])
            # The link's name is the linked container's too (a slash in the path).
            self.assertEqual(api.inspect_container(link)["Id"], db.id)
            api.remove_container(link, link=True)
            self.assertNotIn("/" + link, [n for c in api.containers(all=True) for n in c["Names"]])
            self.assertEqual(len([c for c in api.containers(all=True) if c["Id"] in (db.id, app["Id"])]), 2)
            api.remove_container(app)
        finally:
            db.remove(force=True)
        net = self.c.networks.create("pylinknet")
        try:
            client_c = api.create_container("busybox", "sleep 60", host_config=api.create_host_config(
                network_mode="pylinknet"), networking_config=api.create_networking_config({
                    "pylinknet": api.create_endpoint_config(links=[("pyupstream", "bar")])}))
            try:
                api.start(client_c)
                eps = api.inspect_container(client_c)["NetworkSettings"]["Networks"]
                self.assertEqual(eps["pylinknet"]["Links"], ["pyupstream:bar"])
                up = self.c.containers.run("busybox", "sleep 60", detach=True, name="pyupstream",
                                           network="pylinknet")
                try:
                    ex = api.exec_create(client_c, ["nslookup", "bar"])
                    out = api.exec_start(ex)
                    self.assertEqual(api.exec_inspect(ex)["ExitCode"], 0, out)
                finally:
                    up.remove(force=True)
            finally:
                api.remove_container(client_c, force=True)
        finally:
            net.remove()

    def test_volumes(self):
        vol = self.c.volumes.create("pyvol", labels={"suite": "docker-py"})
        try:
            self.assertEqual(vol.attrs["Labels"], {"suite": "docker-py"})
            self.c.containers.run(
                "busybox", ["sh", "-c", "echo kept > /v/f"],
                volumes={"pyvol": {"bind": "/v", "mode": "rw"}}, remove=True,
            )
            out = self.c.containers.run(
                "busybox", ["cat", "/v/f"], volumes=["pyvol:/v:ro"], remove=True
            )
            self.assertEqual(out, b"kept\n")
            names = [v.name for v in self.c.volumes.list(filters={"label": "suite"})]
            self.assertEqual(names, ["pyvol"])
        finally:
            vol.remove()
        with self.assertRaises(NotFound):
            self.c.volumes.get("pyvol")


class ImageTest(unittest.TestCase):
    def setUp(self):
        self.c = client()

    def test_tag_save_load_remove(self):
        img = self.c.images.get("busybox")
        self.assertTrue(img.tag("pycopy", "1"))
        self.assertIn("pycopy:1", self.c.images.get("pycopy:1").tags)
        data = b"".join(self.c.images.get("pycopy:1").save(named="pycopy:1"))
        self.c.images.remove("pycopy:1")
        with self.assertRaises(ImageNotFound):
            self.c.images.get("pycopy:1")
        loaded = self.c.images.load(data)
        self.assertIn("pycopy:1", loaded[0].tags)
        history = self.c.images.get("pycopy:1").history()
        self.assertEqual(history[0]["Id"], img.id)
        self.c.images.remove("pycopy:1")

    def test_a_bad_archive_to_load_is_an_image_load_error(self):
        with self.assertRaises(docker.errors.ImageLoadError) as e:
            self.c.images.load(b"abc")
        self.assertIn("not a valid tar archive", str(e.exception))

    def test_a_client_leaving_mid_build_leaves_the_server_up(self):
        """docker-py's build() sends the request at once; a caller that never reads the
        stream closes the connection while RUN steps write. (The server used to die of the
        SIGPIPE, silently.)"""
        import gc
        api = self.c.api
        for _ in range(2):
            stream = api.build(fileobj=io.BytesIO(
                b"FROM busybox\nRUN for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 0.2; done\n"),
                nocache=True, decode=True)
            del stream
            gc.collect()
            time.sleep(2.5)
        self.assertTrue(api.ping())

    def test_build_stream_is_the_classic_builders(self):
        """The image ID (aux) comes before "Successfully built/tagged", a RUN step's stderr
        is red, and a failed RUN has the classic builder's message and code."""
        api = self.c.api
        df = io.BytesIO(b"FROM busybox\nRUN echo to-err >&2\n")
        lines = list(api.build(fileobj=df, tag="pyclassic:1", decode=True, nocache=True))
        try:
            self.assertIn("Successfully tagged pyclassic:1", lines[-1]["stream"])
            aux = [i for i, l in enumerate(lines) if "aux" in l]
            built = [i for i, l in enumerate(lines) if "Successfully built" in l.get("stream", "")]
            self.assertTrue(aux and built and aux[0] < built[0], lines)
            self.assertIn({"stream": "\x1b[91mto-err\n\x1b[0m"}, lines)
        finally:
            api.remove_image("pyclassic:1")
        # extra_hosts reach RUN's /etc/hosts; isolation default is Linux's only one.
        df = io.BytesIO(b"FROM busybox\nRUN grep -q '1.2.3.4.*pyextra' /etc/hosts\n")
        ok = list(api.build(fileobj=df, decode=True, nocache=True, isolation="default",
                            extra_hosts={"pyextra": "1.2.3.4"}))
        self.assertNotIn("error", ok[-1], ok)
        bad = list(api.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 3\n"), decode=True))
        self.assertEqual(bad[-1]["errorDetail"]["code"], 3)
        self.assertEqual(bad[-1]["error"], "The command '/bin/sh -c exit 3' returned a non-zero code: 3")

    def test_commit(self):
        ctr = self.c.containers.run("busybox", ["sh", "-c", "echo made > /made"], detach=True)
        try:
            ctr.wait()
            img = ctr.commit("pycommit", "1", changes=["ENV STAGE=two"], message="from python")
            self.assertIn("STAGE=two", img.attrs["Config"]["Env"])
            # Docker's local Parent: the image the container ran.
            self.assertEqual(img.attrs["Parent"], self.c.images.get("busybox").id)
            out = self.c.containers.run("pycommit:1", ["cat", "/made"], remove=True)
            self.assertEqual(out, b"made\n")
        finally:
            ctr.remove(force=True)
        self.c.images.remove("pycommit:1")


class EventTest(unittest.TestCase):
    def test_events_between_times(self):
        c = client()
        since = time.time()
        c.containers.run("busybox", ["true"], remove=True, name="pyevents")
        until = time.time() + 1
        actions = [
            e["Action"]
            for e in c.events(since=since, until=until, decode=True,
                              filters={"container": "pyevents"})
        ]
        for a in ["create", "start", "die", "destroy"]:
            self.assertIn(a, actions)


if __name__ == "__main__":
    unittest.main(verbosity=2)
