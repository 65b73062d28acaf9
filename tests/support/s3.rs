//! A real S3-compatible server per test: moto's standalone server (`python3 -m pip install
//! --user 'moto[server]'`, done by tests/setup.sh) on a free port, started with
//! `python3 -m moto.server`, waited for until it answers HTTP, killed when dropped. Tests never
//! skip: without moto they fail with the install hint.
//!
//! Authentication is on (`INITIAL_NO_AUTH_ACTION_COUNT=3`): the first three calls — made here
//! with boto3, which moto installs — create an IAM user, its access key and a policy allowing
//! S3; from then on moto checks every request's AWS Signature V4, so a store that signs wrong
//! fails the tests.
//!
//! Include it from a test binary with `#[path = "../support/s3.rs"] mod s3_server;`.
#![allow(dead_code)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

pub struct S3Server {
    port: u16,
    child: Child,
    /// The IAM user's access key id and secret.
    pub access_key: String,
    pub secret_key: String,
}

/// Creates the IAM user, key and policy with boto3 (the unauthenticated first calls).
const SETUP: &str = r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], aws_access_key_id="setup",
                   aws_secret_access_key="setup", region_name="us-east-1")
iam.create_user(UserName="switchboard")
key = iam.create_access_key(UserName="switchboard")["AccessKey"]
iam.put_user_policy(UserName="switchboard", PolicyName="s3", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Whether the port accepts connections. Only TCP: an HTTP request would count as one of the
/// unauthenticated calls the setup needs.
fn answers(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

impl S3Server {
    pub fn start() -> S3Server {
        let port = free_port();
        let mut child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (install: python3 -m pip install --user 'moto[server]', see tests/setup.sh)");
        let deadline = Instant::now() + READY_TIMEOUT;
        while !answers(port) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "moto server exited with {status}: is moto[server] installed? (tests/setup.sh)"
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto server did not answer on port {port} within {READY_TIMEOUT:?}"
            );
            std::thread::sleep(POLL);
        }
        let endpoint = format!("http://127.0.0.1:{port}");
        let out = Command::new("python3")
            .args(["-c", SETUP, &endpoint])
            .output()
            .expect("python3 (boto3 comes with moto[server])");
        assert!(
            out.status.success(),
            "creating the S3 user failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut words = text.split_whitespace();
        let (Some(access_key), Some(secret_key)) = (words.next(), words.next()) else {
            panic!("no access key from the S3 setup: {text}");
        };
        S3Server {
            port,
            child,
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
