//! The engine's CloudWatch Logs through aws-sdk-cloudwatchlogs: what a function prints is
//! in its log group while it runs (Python, Node.js and Ruby, no explicit flush), each event
//! stamped with the time it was printed; every line of a long output once and in order;
//! events kept across a restart; the group's size cap dropping the oldest first.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::Client as LogsClient;
use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsError;
use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use serde_json::json;

use crate::support::{TestEngine, create, data_dir, invoke};

/// Prints `tick i at <epoch ms>` every 250 ms for 2.5 s, then a line without a newline.
const PYTHON_TICKS: &str = r#"
import sys, time
def handler(event, context):
    for i in range(10):
        print(f"tick {i} at {int(time.time() * 1000)}")
        time.sleep(0.25)
    sys.stdout.write("no newline at the end")
    return "done"
"#;

const NODE_TICKS: &str = r#"
export const handler = async () => {
  for (let i = 0; i < 10; i++) {
    console.log(`tick ${i} at ${Date.now()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  process.stdout.write("no newline at the end");
  return "done";
};
"#;

const RUBY_TICKS: &str = r#"
def handler(event:, context:)
  10.times do |i|
    puts "tick #{i} at #{(Time.now.to_f * 1000).to_i}"
    sleep 0.25
  end
  print "no newline at the end"
  "done"
end
"#;

/// Follows a group as `aws logs tail --follow` does: FilterLogEvents from the last time
/// seen, every 100 ms, skipping event ids already seen.
struct Follower {
    client: LogsClient,
    group: String,
    since: i64,
    seen: HashSet<String>,
    events: Vec<(FilteredLogEvent, Instant)>,
}

impl Follower {
    fn new(client: &LogsClient, group: &str) -> Self {
        Self {
            client: client.clone(),
            group: group.to_string(),
            since: 0,
            seen: HashSet::new(),
            events: Vec::new(),
        }
    }

    async fn poll(&mut self) {
        // Before the first print the group does not exist yet.
        let events = match filter_events(&self.client, &self.group, Some(self.since), None).await {
            Ok((events, _)) => events,
            Err(e) => {
                assert!(e.is_resource_not_found_exception(), "{e:?}");
                return;
            }
        };
        let now = Instant::now();
        for event in events {
            if self.seen.insert(event.event_id().unwrap().to_string()) {
                self.since = self.since.max(event.timestamp().unwrap());
                self.events.push((event, now));
            }
        }
    }

    fn messages(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|(e, _)| e.message().unwrap().to_string())
            .collect()
    }
}

/// Invokes `name` while following its group; checks the ticks arrived while it ran, each
/// stamped within 100 ms of its own clock, once and in order, and the unterminated line.
async fn follow_ticks(engine: &TestEngine, logs: &LogsClient, name: &str) -> Vec<String> {
    let mut follower = Follower::new(logs, &format!("/aws/lambda/{name}"));
    let client = engine.client.clone();
    let function = name.to_string();
    let invocation = tokio::spawn(async move { invoke(&client, &function, json!({})).await });
    while !invocation.is_finished() {
        follower.poll().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answered = Instant::now();
    let invoked = invocation.await.unwrap();
    assert_eq!(invoked.payload, "done", "{name}: {invoked:?}");
    follower.poll().await;

    let messages = follower.messages();
    let ticks: Vec<(usize, i64, i64, Instant)> = follower
        .events
        .iter()
        .filter_map(|(e, seen)| {
            let message = e.message().unwrap();
            let at = message.find("tick ")?;
            let mut words = message[at + 5..].split(' ');
            let i: usize = words.next()?.parse().ok()?;
            let printed: i64 = words.nth(1)?.parse().ok()?;
            Some((i, printed, e.timestamp().unwrap(), *seen))
        })
        .collect();
    let order: Vec<usize> = ticks.iter().map(|t| t.0).collect();
    assert_eq!(
        order,
        (0..10).collect::<Vec<_>>(),
        "{name}: every tick once, in order: {messages:#?}"
    );
    let (_, _, _, first_seen) = ticks[0];
    assert!(
        answered.duration_since(first_seen) >= Duration::from_millis(1500),
        "{name}: the first tick was read only {:?} before the answer",
        answered.duration_since(first_seen)
    );
    for (i, printed, stamped, _) in &ticks {
        assert!(
            (stamped - printed).abs() <= 100,
            "{name}: tick {i} printed at {printed} but stamped {stamped}"
        );
    }
    let start = messages
        .iter()
        .position(|m| m.starts_with("START RequestId: "))
        .unwrap();
    let end = messages.iter().position(|m| m.starts_with("END RequestId: ")).unwrap();
    assert!(
        start < end && messages[end + 1].starts_with("REPORT RequestId: "),
        "{messages:#?}"
    );
    let unterminated = messages.iter().position(|m| m == "no newline at the end");
    assert!(unterminated.is_some_and(|i| i < end), "{name}: {messages:#?}");
    messages
}

#[tokio::test(flavor = "multi_thread")]
async fn output_is_in_the_log_group_while_the_function_runs_in_every_language() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let logs = engine.logs_client();
    create(
        &engine.client,
        "live-py",
        "python3.12",
        "app.handler",
        &[("app.py", PYTHON_TICKS)],
    )
    .await;
    create(
        &engine.client,
        "live-node",
        "nodejs20.x",
        "index.handler",
        &[("index.mjs", NODE_TICKS)],
    )
    .await;
    create(
        &engine.client,
        "live-rb",
        "ruby3.3",
        "app.handler",
        &[("app.rb", RUBY_TICKS)],
    )
    .await;

    let (python, node, ruby) = tokio::join!(
        follow_ticks(&engine, &logs, "live-py"),
        follow_ticks(&engine, &logs, "live-node"),
        follow_ticks(&engine, &logs, "live-rb"),
    );
    assert!(python.iter().any(|m| m.starts_with("tick 0 at ")), "{python:#?}");
    assert!(ruby.iter().any(|m| m.starts_with("tick 0 at ")), "{ruby:#?}");
    // The Node runtime's own format: time, request id, level, message.
    let request_id = node[0]
        .strip_prefix("START RequestId: ")
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let tick = node.iter().find(|m| m.contains("tick 3 at ")).unwrap();
    let fields: Vec<&str> = tick.split('\t').collect();
    assert_eq!(fields.len(), 4, "{tick}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(fields[0]).is_ok() && fields[0].ends_with('Z') && fields[0].len() == 24,
        "{tick}"
    );
    assert_eq!((fields[1], fields[2]), (request_id, "INFO"), "{tick}");

    // A group per function, a stream per environment named as AWS names them.
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("/aws/lambda/live-")
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = groups.log_groups().iter().filter_map(|g| g.log_group_name()).collect();
    assert_eq!(
        names,
        ["/aws/lambda/live-node", "/aws/lambda/live-py", "/aws/lambda/live-rb"]
    );
    let streams = logs
        .describe_log_streams()
        .log_group_name("/aws/lambda/live-py")
        .send()
        .await
        .unwrap();
    let stream = streams.log_streams()[0].log_stream_name().unwrap();
    let today = chrono::Utc::now().format("%Y/%m/%d/[$LATEST]").to_string();
    assert!(stream.starts_with(&today), "{stream}");
    let id = &stream[today.len()..];
    assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "{stream}");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_thousand_lines_are_stored_once_each_in_order_and_read_back_with_tokens() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let logs = engine.logs_client();
    let source =
        "def handler(event, context):\n    for i in range(20000):\n        print(f'line {i:05d}')\n    return 'ok'\n";
    create(
        &engine.client,
        "many-lines",
        "python3.12",
        "app.handler",
        &[("app.py", source)],
    )
    .await;
    let invoked = invoke(&engine.client, "many-lines", json!({})).await;
    assert_eq!(invoked.payload, "ok");
    assert!(
        invoked.log.len() <= 4096 && invoked.log.contains("line 19999"),
        "the tail is still 4 KB"
    );

    let expected: Vec<String> = (0..20000).map(|i| format!("line {i:05}")).collect();
    let group = "/aws/lambda/many-lines";
    let (filtered, pages) = filter_events(&logs, group, None, Some("line")).await.unwrap();
    assert_eq!(pages, 2, "10,000 events a page");
    assert_eq!(messages(&filtered), expected);

    // GetLogEvents from the head, forward, until the same token comes back.
    let stream = logs
        .describe_log_streams()
        .log_group_name(group)
        .send()
        .await
        .unwrap()
        .log_streams()[0]
        .log_stream_name()
        .unwrap()
        .to_string();
    let mut read = Vec::new();
    let mut token: Option<String> = None;
    let mut caught_up = false;
    for _ in 0..10 {
        let page = logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(&stream)
            .start_from_head(true)
            .limit(7000)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        read.extend(page.events().iter().map(|e| e.message().unwrap().to_string()));
        let next = page.next_forward_token().unwrap().to_string();
        if token.as_deref() == Some(next.as_str()) {
            assert!(page.events().is_empty());
            caught_up = true;
            break;
        }
        token = Some(next);
    }
    assert!(caught_up, "the same forward token comes back at the end");
    let printed: Vec<String> = read.iter().filter(|m| m.starts_with("line ")).cloned().collect();
    assert_eq!(printed, expected);
    assert!(read[0].starts_with("START RequestId: ") && read.last().unwrap().starts_with("REPORT RequestId: "));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn events_outlive_a_restart_and_the_function_and_the_cap_drops_the_oldest() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &["--log-group-max-mb", "1"]).await;
    let logs = engine.logs_client();
    // About 3 MB of events into a group capped at 1 MiB.
    let source = "def handler(event, context):\n    for i in range(30000):\n        print(f'line {i:05d} ' + 'x' * 60)\n    return 'ok'\n";
    create(
        &engine.client,
        "capped",
        "python3.12",
        "app.handler",
        &[("app.py", source)],
    )
    .await;
    assert_eq!(invoke(&engine.client, "capped", json!({})).await.payload, "ok");
    let group = "/aws/lambda/capped";
    let before = all_messages(&logs, group).await;
    assert!(
        before.len() < 30000 && before.len() > 5000,
        "{} events kept",
        before.len()
    );
    assert!(
        before.last().unwrap().starts_with("REPORT RequestId: "),
        "the newest stay"
    );
    let first_kept: usize = before[0][5..10].parse().unwrap();
    let expected: Vec<String> = (first_kept..30000)
        .map(|i| format!("line {i:05} {}", "x".repeat(60)))
        .collect();
    let printed: Vec<String> = before.iter().filter(|m| m.starts_with("line ")).cloned().collect();
    assert_eq!(printed, expected, "the oldest went first, and only they");
    let described = logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .unwrap();
    assert!(described.log_groups()[0].stored_bytes().unwrap() <= 1024 * 1024);

    // Deleting the function keeps its group, as on AWS; a restart keeps the events.
    engine
        .client
        .delete_function()
        .function_name("capped")
        .send()
        .await
        .unwrap();
    engine.stop().await;
    let engine = TestEngine::start(dir.path(), &["--log-group-max-mb", "1"]).await;
    let logs = engine.logs_client();
    assert_eq!(all_messages(&logs, group).await, before);

    // Retention is kept and shown; a deleted group is gone, with AWS's typed error.
    logs.put_retention_policy()
        .log_group_name(group)
        .retention_in_days(7)
        .send()
        .await
        .unwrap();
    let described = logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .unwrap();
    assert_eq!(described.log_groups()[0].retention_in_days(), Some(7));
    let refused = logs
        .put_retention_policy()
        .log_group_name(group)
        .retention_in_days(2)
        .send()
        .await;
    assert!(
        refused
            .unwrap_err()
            .into_service_error()
            .is_invalid_parameter_exception()
    );
    logs.delete_log_group().log_group_name(group).send().await.unwrap();
    let gone = filter_events(&logs, group, None, None).await.unwrap_err();
    assert!(gone.is_resource_not_found_exception(), "{gone:?}");
    logs.create_log_group()
        .log_group_name("/custom/group")
        .send()
        .await
        .unwrap();
    let again = logs
        .create_log_group()
        .log_group_name("/custom/group")
        .send()
        .await
        .unwrap_err();
    assert!(again.into_service_error().is_resource_already_exists_exception());
    engine.stop().await;
}

/// Every event of `group` (from `since`, epoch ms; matching `pattern`), following
/// FilterLogEvents' next tokens to the end; and how many pages that took.
async fn filter_events(
    logs: &LogsClient,
    group: &str,
    since: Option<i64>,
    pattern: Option<&str>,
) -> Result<(Vec<FilteredLogEvent>, usize), FilterLogEventsError> {
    let (mut events, mut pages, mut token) = (Vec::new(), 0, None);
    loop {
        pages += 1;
        let page = logs
            .filter_log_events()
            .log_group_name(group)
            .set_start_time(since)
            .set_filter_pattern(pattern.map(str::to_string))
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| e.into_service_error())?;
        events.extend(page.events().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok((events, pages));
        }
    }
}

fn messages(events: &[FilteredLogEvent]) -> Vec<String> {
    events.iter().map(|e| e.message().unwrap().to_string()).collect()
}

async fn all_messages(logs: &LogsClient, group: &str) -> Vec<String> {
    messages(&filter_events(logs, group, None, None).await.unwrap().0)
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_and_the_aws_cli_read_the_engines_logs() {
    let venv = crate::support::venv();
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let [(_, id), (_, secret)] = engine.key_env();
    crate::support::run_python_check(
        "boto3_logs.py",
        &[engine.url.as_ref(), id.as_ref(), secret.as_ref()],
        "boto3 logs: ok",
    )
    .await;

    // The AWS CLI (v1 in the venv; v2's `logs tail` calls the same FilterLogEvents).
    let group = "/aws/lambda/boto-logs";
    let filtered = aws(
        &venv,
        &engine,
        &[
            "filter-log-events",
            "--log-group-name",
            group,
            "--filter-pattern",
            "\"disk is full\"",
        ],
    )
    .await;
    let messages: Vec<&str> = filtered["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 9, "{filtered}");
    let streams = aws(&venv, &engine, &["describe-log-streams", "--log-group-name", group]).await;
    let stream = streams["logStreams"][0]["logStreamName"].as_str().unwrap();
    let head = aws(
        &venv,
        &engine,
        &[
            "get-log-events",
            "--log-group-name",
            group,
            "--log-stream-name",
            stream,
            "--start-from-head",
        ],
    )
    .await;
    let first = head["events"][0]["message"].as_str().unwrap();
    assert!(first.starts_with("START RequestId: "), "{head}");
    engine.stop().await;
}

/// Runs `aws logs ARGS` of the venv's AWS CLI against the engine; its JSON answer.
async fn aws(venv: &std::path::Path, engine: &TestEngine, args: &[&str]) -> serde_json::Value {
    let out = tokio::process::Command::new(venv.join("bin/aws"))
        .args([
            "logs",
            "--endpoint-url",
            &engine.url,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .args(args)
        .envs(engine.key_env())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .await
        .expect("aws runs");
    assert!(
        out.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
