//! static: the web app's files as rotki's Docker image serves them, nginx (rotki's
//! `location /`: root, `try_files`, gzip) against banyan's `[static]`, at equal worker
//! counts, in interleaved rounds: a hashed script (4 KiB), the SPA fallback (`/dashboard`
//! answered with index.html) and the script gzipped on the fly.

use std::path::Path;
use std::process::Command;

use crate::passthrough::{measure, medians, paired, Costed, Figure};
use crate::procs::{banyan_configured, free_port, wait_port, Contender, Proc};
use crate::Options;

const SCRIPT: &str = "/index-B1aX_9zQ.js";

pub fn run(o: &Options, dir: &Path) {
    let root = dir.join("frontend");
    std::fs::create_dir_all(&root).unwrap();
    let index = "<!doctype html><html><head><title>rotki</title><script type=\"module\" src=\"/index-B1aX_9zQ.js\"></script></head><body><div id=\"app\"></div></body></html>\n";
    std::fs::write(root.join("index.html"), index).unwrap();
    let script: String = (0..4096).map(|i| char::from(b"abcdefghij(){};= \n"[i * 7 % 18])).collect();
    std::fs::write(root.join(&SCRIPT[1..]), script).unwrap();
    println!(
        "## Static files\n\nThe web app's files, nginx as rotki's image configures it against banyan's `[static]`; {} rounds x {} s, wrk -t{}\n",
        o.rounds, o.duration, o.threads
    );
    let cases = [
        ("a 4 KiB hashed script", SCRIPT, None),
        ("the SPA fallback (/dashboard, index.html)", "/dashboard", None),
        ("the script, gzipped on the fly", SCRIPT, Some("Accept-Encoding: gzip")),
    ];
    for &workers in &o.workers {
        let contenders =
            vec![nginx(dir, &root, workers), banyan(dir, &root, workers, true), banyan(dir, &root, workers, false)];
        for (what, path, header) in cases {
            for &conns in &o.connections {
                let runs = measure(o, &contenders, workers, conns, path, header);
                print_table(&contenders, &runs, &format!("{what}, {workers} worker(s) each, {conns} connections"));
            }
        }
    }
}

fn print_table(contenders: &[Contender], runs: &[Vec<Costed>], title: &str) {
    let rps: Figure = |x| x.0.rps;
    let cpu: Figure = |x| x.1;
    println!("### {title}\n");
    println!("| contender | req/s | p50 ms | p99 ms | CPU µs/req | req/s vs nginx | CPU vs nginx | errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (c, r) in contenders.iter().zip(runs) {
        let m = medians(r);
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.1} | {:.2}x | {:.2}x | {} |",
            c.name,
            m.rps,
            m.p50,
            m.p99,
            m.cpu,
            paired(r, &runs[0], rps),
            paired(r, &runs[0], cpu),
            m.errors
        );
    }
    println!("\n(ratios: medians of each round's ratio to nginx.)\n");
}

/// nginx with rotki's `location /` over `root`, no access log (as banyan's second run).
fn nginx(dir: &Path, root: &Path, workers: usize) -> Contender {
    let port = free_port();
    let d = tempfile::Builder::new().prefix("nginx-static").tempdir_in(dir).unwrap().keep();
    let (dd, root) = (d.display(), root.display());
    let conf = format!(
        "worker_processes {workers};\npid {dd}/nginx.pid;\nerror_log {dd}/nginx-error.log warn;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n  sendfile on;\n  access_log off;\n\
           client_body_temp_path {dd}; proxy_temp_path {dd}; fastcgi_temp_path {dd};\n  uwsgi_temp_path {dd}; scgi_temp_path {dd};\n\
           server {{ listen 127.0.0.1:{port}; location / {{ root {root}; index index.html; try_files $uri $uri/ /index.html;\n\
             gzip on; gzip_types text/plain text/xml text/css image/svg+xml application/javascript application/x-javascript application/json application/xml; }} }}\n}}\n"
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .args(["-c", &d.join("nginx.conf").display().to_string(), "-g", "daemon off;"])
        .spawn()
        .expect("start nginx (apt-get install nginx-light)");
    wait_port(port);
    Contender { name: "nginx", access_log: false, port, _procs: vec![Proc(child)] }
}

fn banyan(dir: &Path, root: &Path, workers: usize, access_log: bool) -> Contender {
    let mut config = format!("[server]\nworkers = {workers}\n");
    if !access_log {
        config.push_str("access_log = false\n");
    }
    config.push_str(&format!("\n[static]\nroot = {:?}\n", root.display().to_string()));
    let b = banyan_configured(dir, "http://127.0.0.1:9", "", &config);
    let name = if access_log { "banyan (default)" } else { "banyan, access log off" };
    Contender { name, access_log, port: b.port, _procs: vec![b.proc] }
}
