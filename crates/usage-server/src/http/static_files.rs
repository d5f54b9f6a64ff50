//! `serve --static DIR`: the demo's pages and assets, from the API's origin.
//!
//! Only what the folder holds is served: no dotfile or dot-folder (`.env`,
//! `.git/`), nothing a symbolic link leads to outside the folder. Pages carry a
//! strict Content Security Policy (scripts from this origin only, WebAssembly
//! allowed to compile, no inline script), and may not be framed.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::error::ApiError;

/// The pages' policy: everything from this origin, WebAssembly compiled from it,
/// media, downloads and the AAC encoder's Worker from `blob:` URLs the demo
/// makes; no inline script, no plugins, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self' blob:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `api`, with every path it does not route served from `dir`.
pub fn serve(api: Router, dir: &Path) -> Router {
    let files = Arc::new(StaticFiles::new(dir));
    api.fallback(move |request: Request| {
        let files = files.clone();
        async move { files.answer(request).await }
    })
}

#[derive(Debug)]
struct StaticFiles {
    /// The folder as given, for ServeDir.
    serve_dir: ServeDir,
    /// The folder with every link resolved, to check where a file really is.
    root: Option<PathBuf>,
    dir: PathBuf,
}

impl StaticFiles {
    fn new(dir: &Path) -> Self {
        StaticFiles {
            serve_dir: ServeDir::new(dir).append_index_html_on_directories(true),
            root: dir.canonicalize().ok(),
            dir: dir.to_owned(),
        }
    }

    async fn answer(&self, request: Request) -> Response {
        let path = request.uri().path().to_owned();
        if !self.may_serve(&path) {
            return ApiError::NotFound(path).into_response();
        }
        let response = match self.serve_dir.clone().oneshot(request).await {
            Ok(response) if response.status().as_u16() == 404 => return ApiError::NotFound(path).into_response(),
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        };
        with_page_headers(response)
    }

    /// Whether `path` names something inside the folder that is no dotfile.
    fn may_serve(&self, path: &str) -> bool {
        // Decoded as ServeDir decodes it, so `%2e%2e` is seen as `..`.
        let Ok(decoded) = percent_encoding::percent_decode_str(path).decode_utf8() else { return false };
        let mut relative = PathBuf::new();
        for segment in decoded.split('/').filter(|segment| !segment.is_empty()) {
            if segment.starts_with('.') || segment.contains('\\') {
                return false;
            }
            relative.push(segment);
        }
        if relative.components().any(|part| !matches!(part, Component::Normal(_))) {
            return false;
        }
        let Some(root) = &self.root else { return false };
        // What does not exist is ServeDir's 404; what exists must resolve inside.
        match self.dir.join(&relative).canonicalize() {
            Ok(real) => real.starts_with(root),
            Err(_) => true,
        }
    }
}

fn with_page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotfiles_traversal_and_links_out_of_the_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        std::fs::write(dir.path().join(".env"), "SECRET=1").unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/app.js"), "").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("assets/app.js"), dir.path().join("inside.js")).unwrap();
        let files = StaticFiles::new(dir.path());
        for allowed in ["/", "/index.html", "/assets/app.js", "/inside.js", "/missing.html", "/assets/"] {
            assert!(files.may_serve(allowed), "{allowed}");
        }
        for refused in [
            "/.env",
            "/.git/config",
            "/assets/.hidden",
            "/passwd",
            "/%2eenv",
            "/..%2f..%2fetc/passwd",
            "/a%5cb",
            "/%ff",
        ] {
            assert!(!files.may_serve(refused), "{refused}");
        }
    }
}
