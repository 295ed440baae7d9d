//! The built web app, embedded at build time (see build.rs), looked up by request path.

mod built {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// One file of the app.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub body: &'static [u8],
    pub content_type: &'static str,
    /// Vite names what it bundles by content hash (`/assets/index-3f2a.js`): those never
    /// change under their name and can be cached for good; `index.html` must not be.
    pub immutable: bool,
}

/// The file for a request path; `/` and any path that is not a file (the app's own views,
/// such as `/containers`) get `index.html`.
pub fn lookup(path: &str) -> Option<Asset> {
    let find = |p: &str| built::FILES.iter().find(|(name, _)| *name == p);
    let (name, body) = match find(path) {
        Some(f) => f,
        None if path.starts_with("/assets/") => return None,
        None => find("/index.html")?,
    };
    Some(Asset {
        body,
        content_type: content_type(name),
        immutable: name.starts_with("/assets/"),
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_bundles_are_embedded() {
        let page = lookup("/").expect("index.html is embedded");
        assert_eq!(page.content_type, "text/html; charset=utf-8");
        assert!(!page.immutable);
        let html = std::str::from_utf8(page.body).unwrap();
        let script = html
            .split("src=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the page loads a script");
        let js = lookup(script).expect("the script it names is embedded");
        assert!(js.immutable, "{script}");
        assert_eq!(js.content_type, "text/javascript; charset=utf-8");
        // A view of the app is the page; a missing bundle is not.
        assert_eq!(lookup("/containers").unwrap().body, page.body);
        assert!(lookup("/assets/missing.js").is_none());
    }
}
