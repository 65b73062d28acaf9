//! Attachments in a cluster (DESIGN §11): with the S3-compatible store every node serves every
//! file — uploaded through one node, downloaded through another.

use crate::harness::*;
use crate::helpers::WAIT;
use crate::redis_server::unique_dir;
use crate::s3_server::S3Server;

#[actix_web::test]
async fn a_file_uploaded_through_one_node_is_downloaded_through_another() {
    let s3 = S3Server::start();
    let mut settings = switchboard::config::embedded_defaults().expect("defaults");
    settings.attachments.s3.endpoint = s3.endpoint();
    settings.attachments.s3.bucket = "cluster-files".into();
    settings.attachments.s3.access_key = s3.access_key.clone();
    settings.attachments.s3.secret_key = switchboard::config::Secret::new(&s3.secret_key);
    switchboard::attachments::s3::S3Store::new(
        settings.attachments.s3.clone(),
        unique_dir("sb-spool"),
    )
    .create_bucket()
    .await
    .expect("create bucket");
    let endpoint = s3.endpoint();
    let cluster = Cluster::start(2, |spec| {
        spec.env("SWITCHBOARD__ATTACHMENTS__STORE", "s3");
        spec.env(
            "SWITCHBOARD__ATTACHMENTS__DIR",
            unique_dir("sb-node-files").to_string_lossy(),
        );
        spec.env("SWITCHBOARD__ATTACHMENTS__S3__ENDPOINT", &endpoint);
        spec.env("SWITCHBOARD__ATTACHMENTS__S3__BUCKET", "cluster-files");
        spec.env("SWITCHBOARD__ATTACHMENTS__S3__ACCESS_KEY", &s3.access_key);
        spec.env("SWITCHBOARD__ATTACHMENTS__S3__SECRET_KEY", &s3.secret_key);
    })
    .await;
    let (_customer, conv) = cluster.customer(0, "ada").await;
    let token = _customer.token().to_string();

    let body: Vec<u8> = b"%PDF-1.7\n"
        .iter()
        .copied()
        .chain((0..100_000u32).map(|i| (i % 253) as u8))
        .collect();
    let client = awc::Client::builder().timeout(WAIT).finish();
    let mut resp = client
        .post(format!(
            "http://127.0.0.1:{}/v1/conversations/{conv}/attachments?name=statement.pdf",
            cluster.port(0)
        ))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_body(body.clone())
        .await
        .expect("upload through node 0");
    let answer: serde_json::Value = resp.json().await.expect("upload answer");
    assert_eq!(resp.status().as_u16(), 201, "{answer}");
    let id = answer["attachment"]["id"].as_str().expect("id").to_string();

    // Through node 1, by the customer and by an admin of the org.
    for who in [token.clone(), cluster.admin_token()] {
        let mut resp = client
            .get(format!(
                "http://127.0.0.1:{}/v1/attachments/{id}",
                cluster.port(1)
            ))
            .insert_header(("Authorization", format!("Bearer {who}")))
            .send()
            .await
            .expect("download through node 1");
        assert_eq!(resp.status().as_u16(), 200);
        let got = resp.body().limit(1 << 20).await.expect("body");
        assert!(got == body, "the same bytes through the other node");
    }
}
