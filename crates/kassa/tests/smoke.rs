mod common;

use common::{test_invoice, TestApp};

#[tokio::test]
async fn test_service_processes_an_invoice() {
    let app = TestApp::spawn().await;
    let (status, body) = app.create_private(test_invoice("processed")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["attributes"]["status"], "process_pending");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let attributes = app
        .wait_for_invoice(&id, "processed", |a| a["status"] == "processed")
        .await;
    assert_eq!(attributes["processed_amount"], serde_json::json!(100.5));
}
