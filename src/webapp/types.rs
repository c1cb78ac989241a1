//! What a file's name says about it: its content type (as nginx's `mime.types` gives it,
//! so the web app's files answer as they did behind rotki's nginx), whether it is worth
//! compressing, and whether its name carries a content hash.

/// nginx's `mime.types` (the table Debian's and rotki's image's nginx read), by extension;
/// anything else is nginx's `default_type`, `application/octet-stream`.
const TYPES: &[(&str, &[&str])] = &[
    ("text/html", &["html", "htm", "shtml"]),
    ("text/css", &["css"]),
    ("text/xml", &["xml"]),
    ("image/gif", &["gif"]),
    ("image/jpeg", &["jpeg", "jpg"]),
    ("application/javascript", &["js"]),
    ("application/atom+xml", &["atom"]),
    ("application/rss+xml", &["rss"]),
    ("text/mathml", &["mml"]),
    ("text/plain", &["txt"]),
    ("text/vnd.sun.j2me.app-descriptor", &["jad"]),
    ("text/vnd.wap.wml", &["wml"]),
    ("text/x-component", &["htc"]),
    ("image/avif", &["avif"]),
    ("image/png", &["png"]),
    ("image/svg+xml", &["svg", "svgz"]),
    ("image/tiff", &["tif", "tiff"]),
    ("image/vnd.wap.wbmp", &["wbmp"]),
    ("image/webp", &["webp"]),
    ("image/x-icon", &["ico"]),
    ("image/x-jng", &["jng"]),
    ("image/x-ms-bmp", &["bmp"]),
    ("font/woff", &["woff"]),
    ("font/woff2", &["woff2"]),
    ("application/java-archive", &["jar", "war", "ear"]),
    ("application/json", &["json"]),
    ("application/mac-binhex40", &["hqx"]),
    ("application/msword", &["doc"]),
    ("application/pdf", &["pdf"]),
    ("application/postscript", &["ps", "eps", "ai"]),
    ("application/rtf", &["rtf"]),
    ("application/vnd.apple.mpegurl", &["m3u8"]),
    ("application/vnd.google-earth.kml+xml", &["kml"]),
    ("application/vnd.google-earth.kmz", &["kmz"]),
    ("application/vnd.ms-excel", &["xls"]),
    ("application/vnd.ms-fontobject", &["eot"]),
    ("application/vnd.ms-powerpoint", &["ppt"]),
    ("application/vnd.oasis.opendocument.graphics", &["odg"]),
    ("application/vnd.oasis.opendocument.presentation", &["odp"]),
    ("application/vnd.oasis.opendocument.spreadsheet", &["ods"]),
    ("application/vnd.oasis.opendocument.text", &["odt"]),
    ("application/vnd.openxmlformats-officedocument.presentationml.presentation", &["pptx"]),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", &["xlsx"]),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", &["docx"]),
    ("application/vnd.wap.wmlc", &["wmlc"]),
    ("application/wasm", &["wasm"]),
    ("application/x-7z-compressed", &["7z"]),
    ("application/x-cocoa", &["cco"]),
    ("application/x-java-archive-diff", &["jardiff"]),
    ("application/x-java-jnlp-file", &["jnlp"]),
    ("application/x-makeself", &["run"]),
    ("application/x-perl", &["pl", "pm"]),
    ("application/x-pilot", &["prc", "pdb"]),
    ("application/x-rar-compressed", &["rar"]),
    ("application/x-redhat-package-manager", &["rpm"]),
    ("application/x-sea", &["sea"]),
    ("application/x-shockwave-flash", &["swf"]),
    ("application/x-stuffit", &["sit"]),
    ("application/x-tcl", &["tcl", "tk"]),
    ("application/x-x509-ca-cert", &["der", "pem", "crt"]),
    ("application/x-xpinstall", &["xpi"]),
    ("application/xhtml+xml", &["xhtml"]),
    ("application/xspf+xml", &["xspf"]),
    ("application/zip", &["zip"]),
    ("application/octet-stream", &["bin", "exe", "dll", "deb", "dmg", "iso", "img", "msi", "msp", "msm"]),
    ("audio/midi", &["mid", "midi", "kar"]),
    ("audio/mpeg", &["mp3"]),
    ("audio/ogg", &["ogg"]),
    ("audio/x-m4a", &["m4a"]),
    ("audio/x-realaudio", &["ra"]),
    ("video/3gpp", &["3gpp", "3gp"]),
    ("video/mp2t", &["ts"]),
    ("video/mp4", &["mp4"]),
    ("video/mpeg", &["mpeg", "mpg"]),
    ("video/quicktime", &["mov"]),
    ("video/webm", &["webm"]),
    ("video/x-flv", &["flv"]),
    ("video/x-m4v", &["m4v"]),
    ("video/x-mng", &["mng"]),
    ("video/x-ms-asf", &["asx", "asf"]),
    ("video/x-ms-wmv", &["wmv"]),
    ("video/x-msvideo", &["avi"]),
];

pub const DEFAULT_TYPE: &str = "application/octet-stream";

/// The content type of a file named `name`, by its extension, in any case (as nginx
/// matches it).
pub fn content_type(name: &str) -> &'static str {
    let Some((_, ext)) = name.rsplit_once('.') else { return DEFAULT_TYPE };
    TYPES.iter().find(|(_, exts)| exts.iter().any(|e| e.eq_ignore_ascii_case(ext))).map_or(DEFAULT_TYPE, |(t, _)| t)
}

/// Every extension and its type, for the test that holds the table to nginx's.
pub fn table() -> impl Iterator<Item = (&'static str, &'static str)> {
    TYPES.iter().flat_map(|(t, exts)| exts.iter().map(move |e| (*e, *t)))
}

/// The types compressed on the fly: rotki's nginx.conf's `gzip_types`, and `text/html`,
/// which nginx always compresses.
const COMPRESSIBLE: [&str; 10] = [
    "text/html",
    "text/plain",
    "text/xml",
    "text/css",
    "image/svg+xml",
    "application/javascript",
    "application/x-javascript",
    "application/json",
    "application/xml",
    "text/javascript",
];

pub fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    COMPRESSIBLE.iter().any(|t| t.eq_ignore_ascii_case(essence))
}

/// Whether a file's name ends in a content hash as Vite writes it (`name-` and 8 characters
/// of base64url before the extension, one of them not a lower-case letter, so a name like
/// `logo-settings.png` is not taken for one): such a file never changes under its name.
pub fn hashed(name: &str) -> bool {
    let stem = name.rsplit('/').next().unwrap_or(name);
    let Some((stem, _ext)) = stem.rsplit_once('.') else { return false };
    let b = stem.as_bytes();
    if b.len() < 10 || b[b.len() - 9] != b'-' {
        return false;
    }
    let hash = &b[b.len() - 8..];
    hash.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        && hash.iter().any(|c| !c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_nginx() {
        assert_eq!(content_type("index-B1aX_9zQ.js"), "application/javascript");
        assert_eq!(content_type("a/B.SVG"), "image/svg+xml");
        assert_eq!(content_type("app.webmanifest"), DEFAULT_TYPE);
        assert_eq!(content_type("LICENSE"), DEFAULT_TYPE);
        assert!(compressible("application/javascript"));
        assert!(compressible("text/html; charset=utf-8"));
        assert!(!compressible("image/png"));
    }

    #[test]
    fn hashed_names_are_vites() {
        assert!(hashed("/index-B1aX_9zQ.js"));
        assert!(hashed("/vue-vendor-Dk2-x9aQ.css"));
        assert!(hashed("/a/b/chart-0a1b2c3d.js"));
        assert!(!hashed("/logo-settings.png"));
        assert!(!hashed("/index.html"));
        assert!(!hashed("/favicon.ico"));
        assert!(!hashed("/x-B1aX_9zQ"));
    }
}
