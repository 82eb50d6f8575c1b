//! docs/nginx.conf as written, in a directory of its own, with the given upstreams and a
//! free port to listen on. The nginx integration test and the chaos bench both use it,
//! so both run the very file the docs give.

use std::path::Path;

/// Debian's nginx, when installed.
pub fn binary() -> Option<&'static str> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).exists())
}

/// Writes `site.conf` (docs/nginx.conf, its two upstreams replaced by `upstreams`, each
/// `127.0.0.1:PORT`) and an `nginx.conf` around it into `dir`; the port nginx will listen on.
pub fn configure(dir: &Path, upstreams: &[String]) -> u16 {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let site = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/nginx.conf")).unwrap();
    let (first, second) = (
        "server 127.0.0.1:8001 max_fails=1 fail_timeout=5s;\n    ",
        "server 127.0.0.1:8002 max_fails=1 fail_timeout=5s;\n",
    );
    for expected in [first, second, "listen 127.0.0.1:8080"] {
        assert!(site.contains(expected), "docs/nginx.conf has {expected:?}");
    }
    let lines: String = upstreams.iter().map(|u| format!("server {u} max_fails=1 fail_timeout=5s;\n    ")).collect();
    let site = site
        .replace(first, &lines)
        .replace(second, "\n")
        .replace("listen 127.0.0.1:8080", &format!("listen 127.0.0.1:{port}"));
    assert_eq!(site.matches("server 127.0.0.1:").count(), upstreams.len(), "upstreams replaced: {site}");
    std::fs::write(dir.join("site.conf"), site).unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log crit;\n\
             events {{ worker_connections 4096; }}\n\
             http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
             include {d}/site.conf; }}\n"
        ),
    )
    .unwrap();
    port
}

/// The command that runs nginx on `dir`'s configuration (the caller owns the process).
pub fn command(nginx: &str, dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(nginx);
    command.arg("-p").arg(dir).arg("-c").arg(dir.join("nginx.conf"));
    command
}
