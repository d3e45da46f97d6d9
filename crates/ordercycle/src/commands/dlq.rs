//! `ordercycle dlq list|show|replay`: the dead-letter stream, for the operator who fixed what
//! made an event poison. Talks to NATS directly (`OC_NATS_URL`, `OC_SUBJECT_ROOT`): dead
//! letters belong to no service.

use anyhow::Context as _;
use clap::Subcommand;
use messaging::dlq::{self, DeadLetter};
use runtime::Subjects;
use serde_json::{Value, json};

use super::Out;

#[derive(Subcommand, Debug)]
pub enum DlqCmd {
    /// Dead letters, oldest first.
    List {
        /// Only this consumer's (e.g. `payments__orders_order_placed`).
        #[arg(long)]
        consumer: Option<String>,
    },
    /// One dead letter: its event's headers, the reason and the body.
    Show { sequence: u64 },
    /// Put dead letters back on their original subject, once the cause is fixed: the named
    /// sequences, or with `--all` every one (of `--consumer`, when given).
    Replay {
        sequences: Vec<u64>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        consumer: Option<String>,
    },
}

struct Nats {
    jetstream: async_nats::jetstream::Context,
    subjects: Subjects,
}

async fn connect() -> anyhow::Result<Nats> {
    let url = std::env::var("OC_NATS_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    let root = std::env::var("OC_SUBJECT_ROOT")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "oc".to_owned());
    let client = runtime::nats::connect(&url, "ordercycle-dlq")
        .await
        .with_context(|| format!("connecting to NATS at {url}"))?;
    Ok(Nats {
        jetstream: async_nats::jetstream::new(client),
        subjects: Subjects::new(root),
    })
}

fn row(l: &DeadLetter) -> Vec<(&'static str, Value)> {
    vec![
        ("sequence", json!(l.sequence)),
        ("consumer", json!(l.consumer)),
        ("subject", json!(l.subject)),
        ("event_id", json!(l.event_id)),
        ("deliveries", json!(l.deliveries)),
        ("reason", json!(l.reason)),
    ]
}

const HEADERS: [&str; 6] = [
    "SEQ",
    "CONSUMER",
    "SUBJECT",
    "EVENT",
    "DELIVERIES",
    "REASON",
];

pub async fn dlq(out: &Out, cmd: DlqCmd) -> anyhow::Result<()> {
    let nats = connect().await?;
    match cmd {
        DlqCmd::List { consumer } => {
            let letters = dlq::list(&nats.jetstream, &nats.subjects, consumer.as_deref()).await?;
            out.rows(&HEADERS, letters.iter().map(row).collect());
            out.note(&format!("{} dead letter(s)", letters.len()));
        }
        DlqCmd::Show { sequence } => {
            let letter = dlq::get(&nats.jetstream, &nats.subjects, sequence)
                .await?
                .with_context(|| format!("no dead letter {sequence}"))?;
            let mut fields = row(&letter);
            fields.push(("event_type", json!(letter.event_type)));
            fields.push(("event_time", json!(letter.event_time)));
            let headers: serde_json::Map<String, Value> = letter
                .headers
                .iter()
                .map(|(name, values)| {
                    let name: &str = name.as_ref();
                    let values: Vec<&str> = values.iter().map(|v| v.as_str()).collect();
                    (name.to_owned(), json!(values.join(", ")))
                })
                .collect();
            fields.push(("headers", Value::Object(headers)));
            // The body is protobuf (`event_type` names the message); hex keeps it exact.
            let hex: String = letter.payload.iter().map(|b| format!("{b:02x}")).collect();
            fields.push(("body_hex", json!(hex)));
            if out.json {
                out.rows(&[], vec![fields]);
            } else {
                for (key, value) in fields {
                    crate::output::raw(&format!("{key:>12}  {}\n", super::cell(&value)));
                }
            }
        }
        DlqCmd::Replay {
            sequences,
            all,
            consumer,
        } => {
            let chosen: Vec<u64> = if all {
                dlq::list(&nats.jetstream, &nats.subjects, consumer.as_deref())
                    .await?
                    .iter()
                    .map(|l| l.sequence)
                    .collect()
            } else if sequences.is_empty() {
                anyhow::bail!("name the dead letters to replay, or pass --all");
            } else {
                sequences
            };
            let mut rows = Vec::new();
            for sequence in chosen {
                let letter = dlq::replay(&nats.jetstream, &nats.subjects, sequence)
                    .await?
                    .with_context(|| format!("no dead letter {sequence}"))?;
                rows.push(row(&letter));
            }
            let n = rows.len();
            out.rows(&HEADERS, rows);
            out.note(&format!("{n} dead letter(s) replayed"));
        }
    }
    Ok(())
}
