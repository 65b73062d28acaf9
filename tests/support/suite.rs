//! The behavioural suite's module list, once for both engines: `tests/api/main.rs` (memory)
//! and `tests/api_redis/main.rs` (Redis) each invoke `behavioural_suite!()`. A module path in
//! the macro resolves from the invoking file's folder, so `../api/x.rs` names the same file from
//! `tests/api/` and from `tests/api_redis/`. `every_file_of_the_suite_runs_on_both_engines`
//! fails when a file in `tests/api/` is missing from this list.

/// Declares every module of the behavioural suite.
#[macro_export]
macro_rules! behavioural_suite {
    () => {
        #[path = "../api/agent_chat.rs"]
        mod agent_chat;
        #[path = "../api/archive.rs"]
        mod archive;
        #[path = "../api/async_chat.rs"]
        mod async_chat;
        #[path = "../api/attachments.rs"]
        mod attachments;
        #[path = "../api/bad_input.rs"]
        mod bad_input;
        #[path = "../api/bot.rs"]
        mod bot;
        #[path = "../support/bot.rs"]
        mod bot_server;
        #[path = "../api/canned.rs"]
        mod canned;
        #[path = "../api/chat.rs"]
        mod chat;
        #[path = "../api/config.rs"]
        mod config;
        #[path = "../api/email.rs"]
        mod email;
        #[path = "../api/exports.rs"]
        mod exports;
        #[path = "../api/helpers.rs"]
        mod helpers;
        #[path = "../api/history.rs"]
        mod history;
        #[path = "../api/outbound.rs"]
        mod outbound;
        #[path = "../api/participants.rs"]
        mod participants;
        #[path = "../api/policy.rs"]
        mod policy;
        #[path = "../api/push_and_preview.rs"]
        mod push_and_preview;
        #[path = "../support/postgres.rs"]
        mod postgres_server;
        #[path = "../api/privacy.rs"]
        mod privacy;
        #[path = "../support/redis.rs"]
        mod redis_server;
        #[path = "../support/s3.rs"]
        mod s3_server;
        #[path = "../support/scanner.rs"]
        mod scanner;
        #[path = "../support/smtp.rs"]
        mod smtp_server;
        #[path = "../api/reports.rs"]
        mod reports;
        #[path = "../api/request_list.rs"]
        mod request_list;
        #[path = "../api/rest.rs"]
        mod rest;
        #[path = "../api/routing.rs"]
        mod routing;
        #[path = "../api/timers.rs"]
        mod timers;
        #[path = "../api/web.rs"]
        mod web;
        #[path = "../api/webhooks.rs"]
        mod webhooks;

        /// Every `tests/api/*.rs` file (but `main.rs`) is a module of the suite above.
        #[test]
        fn every_file_of_the_suite_runs_on_both_engines() {
            let listed = include_str!("../support/suite.rs");
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api");
            let mut missing = Vec::new();
            for entry in std::fs::read_dir(&dir).expect("tests/api") {
                let name = entry.expect("entry").file_name();
                let name = name.to_string_lossy().to_string();
                if name.ends_with(".rs")
                    && name != "main.rs"
                    && !listed.contains(&format!("\"../api/{name}\""))
                {
                    missing.push(name);
                }
            }
            assert!(
                missing.is_empty(),
                "tests/api files not in tests/support/suite.rs (they would run on no engine): {missing:?}"
            );
        }
    };
}
