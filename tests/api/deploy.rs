//! The files in deploy/ checked by the tools that will run them: nginx in front of the real
//! service, and systemd's own verifier on the unit.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::helpers::*;

/// CI installs nginx and systemd's tools (scripts/setup-test.sh); a developer machine may lack them.
fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{name} is required in CI (scripts/setup-test.sh installs it)");
        eprintln!("skipped: {name} is not installed");
    }
    found
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn curl(args: &[&str]) -> String {
    let (ok, out) = run(Command::new("curl").args(["-sk", "--max-time", "60"]).args(args));
    assert!(ok, "curl {args:?}: {out}");
    out
}

struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn nginx_with_the_deploy_site_proxies_register_and_verify_over_tls() {
    if !tool("nginx") || !tool("openssl") || !tool("curl") {
        return;
    }
    let app = spawn(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (key, cert) = (format!("{d}/key.pem"), format!("{d}/cert.pem"));
    let (ok, out) = run(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-keyout",
        &key,
        "-out",
        &cert,
    ]));
    assert!(ok, "{out}");
    let (http, https) = (free_port(), free_port());
    let upstream = app.base.trim_start_matches("http://").to_string();
    // The shipped site, moved onto loopback ports with a throwaway certificate; nothing else changes.
    let site = std::fs::read_to_string(root().join("deploy/nginx.conf"))
        .unwrap()
        .replace("server 127.0.0.1:5000 max_fails=2 fail_timeout=5s;", &format!("server {upstream};"))
        .replace("server 127.0.0.1:5001 max_fails=2 fail_timeout=5s;", "")
        .replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
        .replace("listen 443 ssl http2;", &format!("listen 127.0.0.1:{https} ssl http2;"))
        .replace("listen [::]:80;", "")
        .replace("listen [::]:443 ssl http2;", "")
        .replace("/etc/letsencrypt/live/faceauth.example.com/fullchain.pem", &cert)
        .replace("/etc/letsencrypt/live/faceauth.example.com/privkey.pem", &key)
        .replace("/var/www/certbot", &d);
    assert!(site.contains(&upstream) && site.contains(&cert), "the site's expected lines moved");
    std::fs::write(format!("{d}/site.conf"), site).unwrap();
    let main = format!(
        // One process (no master and workers), so the drop guard's kill leaves no orphaned worker.
        "pid {d}/nginx.pid; error_log {d}/error.log; daemon off; master_process off; events {{}}\n\
         http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi; include {d}/site.conf; }}\n"
    );
    let conf = format!("{d}/nginx.conf");
    std::fs::write(&conf, main).unwrap();

    let (ok, out) = run(Command::new("nginx").args(["-t", "-c", &conf]));
    assert!(ok && out.contains("syntax is ok"), "nginx -t: {out}");
    let _nginx =
        Nginx(Command::new("nginx").args(["-c", &conf]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", https)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }

    let redirect =
        curl(&["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", &format!("http://127.0.0.1:{http}/health")]);
    assert!(redirect.starts_with("301 https://"), "{redirect}");
    let base = format!("https://127.0.0.1:{https}");
    let photo = |rel: &str| {
        format!(
            "image=@{}",
            Path::new(
                &std::env::var("FACES_DIR").unwrap_or_else(|_| root().join("../shared/faces").display().to_string())
            )
            .join(rel)
            .display()
        )
    };
    let registered = curl(&["-F", "user_id=angelina", "-F", &photo(ANGELINA_1), &format!("{base}/api/register")]);
    assert!(registered.contains("\"references\":1"), "{registered}");
    let verified =
        curl(&["-D", "-", "-F", "user_id=angelina", "-F", &photo(ANGELINA_2), &format!("{base}/api/verify")]);
    assert!(verified.contains("\"verified\":true"), "{verified}");
    // nginx's $request_id (32 hex digits) travels to the service and back.
    let id = verified
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("x-request-id header")
        .trim()
        .to_string();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert!(app.wait_for_log(&id, std::time::Duration::from_secs(10)), "the edge's request id is in the service log");
    // Above client_max_body_size, nginx refuses at the edge, before the service sees a byte.
    let big = format!("{d}/big.jpg");
    std::fs::write(&big, vec![0u8; 18 << 20]).unwrap();
    let (_, status) = run(Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", "-F", "user_id=a", "-F"])
        .arg(format!("image=@{big}"))
        .arg(format!("{base}/api/register")));
    assert!(status.ends_with("413"), "{status}");
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    if !tool("systemd-analyze") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The unit as shipped, pointing at the binary under test instead of /opt/faceauth/bin.
    let unit = std::fs::read_to_string(root().join("deploy/faceauth.service"))
        .unwrap()
        .replace("/opt/faceauth/bin/faceauth", env!("CARGO_BIN_EXE_faceauth"));
    let path = dir.path().join("faceauth.service");
    std::fs::write(&path, &unit).unwrap();
    let (ok, out) = run(Command::new("systemd-analyze").arg("verify").arg(&path));
    assert!(ok && out.trim().is_empty(), "systemd-analyze verify: {out}");
    for hardening in
        ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n"]
    {
        assert!(unit.contains(hardening), "{hardening}");
    }
    // Drain time (SHUTDOWN_TIMEOUT_SECS default 25) fits inside systemd's stop timeout.
    let stop: u64 = unit.lines().find_map(|l| l.strip_prefix("TimeoutStopSec=")).unwrap().parse().unwrap();
    assert!(stop > 25);
}

#[tokio::test]
async fn the_deploy_verification_script_passes_against_a_running_service() {
    if !tool("curl") || !tool("python3") {
        return;
    }
    let app = spawn(&[("API_KEYS", "deploy-check-key-0123456789")]);
    let faces = std::env::var("FACES_DIR").unwrap_or_else(|_| root().join("../shared/faces").display().to_string());
    let photo = |rel: &str| format!("{faces}/{rel}");
    let (ok, out) = run(Command::new("bash")
        .arg(root().join("deploy/verify.sh"))
        .args([&app.base, &photo(ANGELINA_1), &photo(ANGELINA_2), &photo(ANISTON)])
        .env("API_KEY", "deploy-check-key-0123456789"));
    assert!(ok, "{out}");
    for line in [
        "PASS  /health",
        "PASS  /ready",
        "PASS  register",
        "PASS  verify same person",
        "PASS  verify other person rejected",
        "PASS  delete",
        "PASS  user gone",
        "ALL PASS",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    // Without the key the round trip fails, and the script says so.
    let (ok, out) = run(Command::new("bash").arg(root().join("deploy/verify.sh")).args([
        &app.base,
        &photo(ANGELINA_1),
        &photo(ANGELINA_2),
    ]));
    assert!(!ok && out.contains("FAIL  register"), "{out}");
}
