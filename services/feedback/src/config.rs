//! Feedback's own settings, from `OC_FEEDBACK_…` variables with defaults that suit a shop.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `OC_FEEDBACK_SURVEY_DELAY` | `1d` | after delivery, when the survey invitation goes out |
//! | `OC_FEEDBACK_SURVEY_VALID_FOR` | `30d` | how long an invitation can be answered |
//! | `OC_FEEDBACK_BLOCKED_WORDS` | a short list of insults | comma-separated words or phrases that flag a review |
//! | `OC_FEEDBACK_FLAG_LINKS` | `true` | flag reviews containing links or e-mail addresses |
//! | `OC_FEEDBACK_SLA_FIRST_RESPONSE` | `urgent=1h,high=4h,normal=8h,low=24h` | first-response deadline per priority |
//! | `OC_FEEDBACK_SLA_RESOLUTION` | `urgent=1d,high=2d,normal=3d,low=5d` | resolution deadline per priority |
//! | `OC_FEEDBACK_PROBLEM_CASE_PRIORITY` | `high` | priority of cases opened from orders' problem reports |
//!
//! Durations are a number with a unit: `90s`, `15m`, `8h`, `3d`. All of them run on the service
//! clock, so `OC_CLOCK_SCALE` shortens them in demos and tests.

use std::time::Duration;

use runtime::config::{ConfigError, Env};

use crate::domain::case::{CasePriority, SlaPolicy};
use crate::domain::review::ModerationRules;

const DEFAULT_BLOCKED_WORDS: &str = "idiot,idiots,stupid,moron,scam,scammers,crap";

#[derive(Debug, Clone)]
pub struct Config {
    pub survey_delay: Duration,
    pub survey_valid_for: Duration,
    pub moderation: ModerationRules,
    pub sla: SlaPolicy,
    pub problem_case_priority: CasePriority,
}

impl Config {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let duration = |key: &str, default: &str| -> Result<Duration, ConfigError> {
            let raw = env.get(key).unwrap_or_else(|| default.to_owned());
            parse_duration(&raw).map_err(|reason| ConfigError {
                var: key.to_owned(),
                reason,
            })
        };
        let per_priority = |key: &str, default: &str| -> Result<[Duration; 4], ConfigError> {
            let raw = env.get(key).unwrap_or_else(|| default.to_owned());
            parse_per_priority(&raw).map_err(|reason| ConfigError {
                var: key.to_owned(),
                reason,
            })
        };
        let blocked_words: Vec<String> = env
            .get("OC_FEEDBACK_BLOCKED_WORDS")
            .unwrap_or_else(|| DEFAULT_BLOCKED_WORDS.to_owned())
            .split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        let flag_links = match env.get("OC_FEEDBACK_FLAG_LINKS").as_deref().map(str::trim) {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => {
                return Err(ConfigError {
                    var: "OC_FEEDBACK_FLAG_LINKS".into(),
                    reason: format!("`{other}` is neither `true` nor `false`"),
                });
            }
        };
        let problem_case_priority = match env.get("OC_FEEDBACK_PROBLEM_CASE_PRIORITY") {
            None => CasePriority::High,
            Some(raw) => {
                CasePriority::parse(&raw.trim().to_uppercase()).ok_or_else(|| ConfigError {
                    var: "OC_FEEDBACK_PROBLEM_CASE_PRIORITY".into(),
                    reason: format!("`{raw}` is not one of low, normal, high, urgent"),
                })?
            }
        };
        Ok(Self {
            survey_delay: duration("OC_FEEDBACK_SURVEY_DELAY", "1d")?,
            survey_valid_for: duration("OC_FEEDBACK_SURVEY_VALID_FOR", "30d")?,
            moderation: ModerationRules::new(&blocked_words, flag_links),
            sla: SlaPolicy::new(
                per_priority(
                    "OC_FEEDBACK_SLA_FIRST_RESPONSE",
                    "urgent=1h,high=4h,normal=8h,low=24h",
                )?,
                per_priority(
                    "OC_FEEDBACK_SLA_RESOLUTION",
                    "urgent=1d,high=2d,normal=3d,low=5d",
                )?,
            ),
            problem_case_priority,
        })
    }
}

/// `90s`, `15m`, `8h`, `3d` (a bare number is seconds).
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{raw}` is not a duration such as 90s, 15m, 8h or 3d"))?;
    let seconds = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{raw}` (use s, m, h or d)"
            ));
        }
    };
    number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{raw}` is too long"))
}

/// `urgent=1h,high=4h,normal=8h,low=24h`, every priority named once; indexed by
/// [`CasePriority::index`].
fn parse_per_priority(raw: &str) -> Result<[Duration; 4], String> {
    let mut found: [Option<Duration>; 4] = [None; 4];
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}` is not `<priority>=<duration>`"))?;
        let priority = CasePriority::parse(&name.trim().to_uppercase())
            .ok_or_else(|| format!("`{name}` is not one of low, normal, high, urgent"))?;
        found[priority.index()] = Some(parse_duration(value)?);
    }
    let mut out = [Duration::ZERO; 4];
    for priority in CasePriority::ALL {
        out[priority.index()] = found[priority.index()]
            .ok_or_else(|| format!("no duration for {}", priority.as_str().to_lowercase()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_parse() {
        let config = Config::from_env(&Env::from_fn(|_| None)).unwrap();
        assert_eq!(config.survey_delay, Duration::from_secs(86_400));
        assert_eq!(
            config.sla.first_response(CasePriority::Urgent),
            Duration::from_secs(3600)
        );
        assert_eq!(
            config.sla.resolution(CasePriority::Low),
            Duration::from_secs(5 * 86_400)
        );
        assert_eq!(config.problem_case_priority, CasePriority::High);
    }

    #[test]
    fn variables_override_the_defaults() {
        let env = Env::from_fn(|key| match key {
            "OC_FEEDBACK_SURVEY_DELAY" => Some("2h".into()),
            "OC_FEEDBACK_BLOCKED_WORDS" => Some(" rubbish , junk ".into()),
            "OC_FEEDBACK_FLAG_LINKS" => Some("false".into()),
            "OC_FEEDBACK_SLA_FIRST_RESPONSE" => Some("low=1m,normal=2m,high=3m,urgent=4m".into()),
            _ => None,
        });
        let config = Config::from_env(&env).unwrap();
        assert_eq!(config.survey_delay, Duration::from_secs(7200));
        assert_eq!(
            config.sla.first_response(CasePriority::High),
            Duration::from_secs(180)
        );
        assert!(config.moderation.flags(&["total junk"]).len() == 1);
        assert!(config.moderation.flags(&["see https://x.com"]).is_empty());
    }

    #[test]
    fn bad_values_name_their_variable() {
        let env = Env::from_fn(|key| {
            (key == "OC_FEEDBACK_SLA_RESOLUTION").then(|| "urgent=1d,high=2d".to_owned())
        });
        let err = Config::from_env(&env).unwrap_err();
        assert_eq!(err.var, "OC_FEEDBACK_SLA_RESOLUTION");
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("h").is_err());
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
    }
}
