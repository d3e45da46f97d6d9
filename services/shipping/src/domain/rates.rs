//! The rate table: which carriers exist, what each of their services takes (weight, size),
//! where it goes, how long it takes and what it costs; and the rule that picks a carrier for a
//! parcel. The table is configuration (`OC_SHIPPING_RATE_TABLE_FILE`, JSON in the shape of
//! `rate_table.json`, the built-in default of simulated carriers).
//!
//! The rule: among the services of the requested level (default `standard`) that take the
//! parcel's weight and longest side and have a lane to the destination, the cheapest wins;
//! ties go to the faster, then to the carrier code. A lane names destinations as `DE-BY`
//! (country and region), `DE` (country) or `*`; the most specific lane of a service is used.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::shipment::{Address, Dimensions, FailureReason, TrackingStatus};

pub const DEFAULT_SERVICE_LEVEL: &str = "standard";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateTable {
    /// Currency of every price in the table.
    pub currency: String,
    pub carriers: Vec<Carrier>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Carrier {
    /// e.g. `sim-express`: lower case letters, digits and `-` (it appears in webhook URLs).
    pub code: String,
    pub name: String,
    /// Two upper-case letters starting every tracking number of this carrier.
    pub tracking_prefix: String,
    /// Public tracking page; `{tracking_number}` is replaced.
    #[serde(default)]
    pub tracking_url: String,
    /// Driven by the built-in simulator (see `carriers.rs`) rather than by a real carrier's
    /// webhooks.
    #[serde(default)]
    pub simulated: bool,
    /// The carrier's own status codes, as they arrive in webhooks.
    pub codes: BTreeMap<String, CodeMapping>,
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeMapping {
    pub status: TrackingStatus,
    #[serde(default)]
    pub failure_reason: Option<FailureReason>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub level: String,
    pub max_weight_grams: i32,
    /// Longest side accepted, in mm; absent means no limit.
    #[serde(default)]
    pub max_side_mm: Option<i32>,
    pub lanes: Vec<Lane>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lane {
    pub destinations: Vec<String>,
    pub transit_days: i32,
    pub base_price_minor: i64,
    pub per_kg_minor: i64,
}

/// The carrier service chosen for a parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub carrier: String,
    pub service_level: String,
    pub transit_days: i32,
    pub price_minor: i64,
}

/// What the rule is asked to place.
#[derive(Debug, Clone)]
pub struct Parcel<'a> {
    pub destination: &'a Address,
    pub weight_grams: i32,
    pub dimensions: Option<Dimensions>,
    /// Empty: any carrier.
    pub preferred_carrier: &'a str,
    /// Empty: the default level.
    pub service_level: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error("no carrier is called {0:?}")]
    UnknownCarrier(String),
    #[error("no carrier offers {level:?} to {destination} for {weight_grams} g{size}")]
    NoService {
        level: String,
        destination: String,
        weight_grams: i32,
        size: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("the rate table is not valid JSON of the expected shape: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("the rate table is inconsistent: {0}")]
    Inconsistent(String),
}

impl RateTable {
    pub fn from_json(json: &str) -> Result<Self, TableError> {
        let table: Self = serde_json::from_str(json)?;
        table.validate()?;
        Ok(table)
    }

    fn validate(&self) -> Result<(), TableError> {
        let bad = |msg: String| Err(TableError::Inconsistent(msg));
        if self.carriers.is_empty() {
            return bad("no carriers".into());
        }
        let mut codes = std::collections::BTreeSet::new();
        for c in &self.carriers {
            let code_ok = !c.code.is_empty()
                && c.code
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
            if !code_ok {
                return bad(format!("carrier code {:?} must be [a-z0-9-]+", c.code));
            }
            if !codes.insert(c.code.as_str()) {
                return bad(format!("carrier {} appears twice", c.code));
            }
            let p = c.tracking_prefix.as_bytes();
            if !(p.len() == 2 && p.iter().all(u8::is_ascii_uppercase)) {
                return bad(format!(
                    "{}: tracking_prefix must be two letters A-Z",
                    c.code
                ));
            }
            for s in &c.services {
                if s.max_weight_grams <= 0 || s.lanes.is_empty() {
                    return bad(format!(
                        "{} {}: needs a weight limit and lanes",
                        c.code, s.level
                    ));
                }
                if s.lanes.iter().any(|l| l.transit_days < 0) {
                    return bad(format!("{} {}: negative transit days", c.code, s.level));
                }
            }
        }
        Ok(())
    }

    pub fn carrier(&self, code: &str) -> Option<&Carrier> {
        self.carriers.iter().find(|c| c.code == code)
    }

    /// Picks the carrier service for `parcel` (see the module docs for the rule).
    pub fn choose(&self, parcel: &Parcel<'_>) -> Result<Choice, ChoiceError> {
        let level = if parcel.service_level.is_empty() {
            DEFAULT_SERVICE_LEVEL
        } else {
            parcel.service_level
        };
        let carriers: Vec<&Carrier> = if parcel.preferred_carrier.is_empty() {
            self.carriers.iter().collect()
        } else {
            vec![
                self.carrier(parcel.preferred_carrier)
                    .ok_or_else(|| ChoiceError::UnknownCarrier(parcel.preferred_carrier.into()))?,
            ]
        };
        let longest = parcel.dimensions.map_or(0, |d| d.longest_side());
        let kg_started = i64::from(parcel.weight_grams.max(1) + 999) / 1000;
        carriers
            .into_iter()
            .flat_map(|carrier| {
                carrier
                    .services
                    .iter()
                    .filter(|s| s.level == level)
                    .filter(|s| parcel.weight_grams <= s.max_weight_grams)
                    .filter(|s| s.max_side_mm.is_none_or(|max| longest <= max))
                    .filter_map(move |s| {
                        let lane = best_lane(&s.lanes, parcel.destination)?;
                        Some(Choice {
                            carrier: carrier.code.clone(),
                            service_level: s.level.clone(),
                            transit_days: lane.transit_days,
                            price_minor: lane.base_price_minor + lane.per_kg_minor * kg_started,
                        })
                    })
            })
            .min_by(|a, b| {
                (a.price_minor, a.transit_days, &a.carrier).cmp(&(
                    b.price_minor,
                    b.transit_days,
                    &b.carrier,
                ))
            })
            .ok_or_else(|| ChoiceError::NoService {
                level: level.to_owned(),
                destination: destination_key(parcel.destination),
                weight_grams: parcel.weight_grams,
                size: if longest > 0 {
                    format!(" with a longest side of {longest} mm")
                } else {
                    String::new()
                },
            })
    }
}

fn destination_key(to: &Address) -> String {
    if to.region.is_empty() {
        to.country_code.clone()
    } else {
        format!("{}-{}", to.country_code, to.region)
    }
}

/// The most specific lane of a service that reaches `to`.
fn best_lane<'a>(lanes: &'a [Lane], to: &Address) -> Option<&'a Lane> {
    let region = format!("{}-{}", to.country_code, to.region);
    lanes
        .iter()
        .filter_map(|lane| {
            let specificity = lane
                .destinations
                .iter()
                .filter_map(|d| {
                    if !to.region.is_empty() && d.eq_ignore_ascii_case(&region) {
                        Some(3)
                    } else if d.eq_ignore_ascii_case(&to.country_code) {
                        Some(2)
                    } else if d == "*" {
                        Some(1)
                    } else {
                        None
                    }
                })
                .max()?;
            Some((specificity, lane))
        })
        .max_by_key(|(specificity, _)| *specificity)
        .map(|(_, lane)| lane)
}

impl Carrier {
    /// The canonical meaning of one of this carrier's status codes.
    pub fn map_code(&self, code: &str) -> Option<CodeMapping> {
        self.codes
            .get(code)
            .or_else(|| {
                self.codes
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(code))
                    .map(|(_, v)| v)
            })
            .copied()
    }

    /// A code of this carrier for `status` (what the simulator reports).
    pub fn code_for(&self, status: TrackingStatus, reason: Option<FailureReason>) -> String {
        self.codes
            .iter()
            .find(|(_, m)| m.status == status && (reason.is_none() || m.failure_reason == reason))
            .or_else(|| self.codes.iter().find(|(_, m)| m.status == status))
            .map_or_else(|| status.as_str().to_owned(), |(code, _)| code.clone())
    }

    pub fn tracking_url(&self, tracking_number: &str) -> String {
        self.tracking_url
            .replace("{tracking_number}", tracking_number)
    }
}

/// The built-in table: three simulated carriers.
pub const DEFAULT_RATE_TABLE: &str = include_str!("../rate_table.json");

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RateTable {
        RateTable::from_json(DEFAULT_RATE_TABLE).unwrap_or_else(|e| panic!("{e}"))
    }

    fn to(country: &str, region: &str) -> Address {
        Address {
            recipient: "R".into(),
            line1: "L".into(),
            city: "C".into(),
            country_code: country.into(),
            region: region.into(),
            ..Address::default()
        }
    }

    fn parcel<'a>(to: &'a Address, grams: i32, level: &'a str) -> Parcel<'a> {
        Parcel {
            destination: to,
            weight_grams: grams,
            dimensions: None,
            preferred_carrier: "",
            service_level: level,
        }
    }

    #[test]
    fn the_built_in_table_is_valid() {
        let t = table();
        assert!(t.carriers.iter().all(|c| c.simulated));
        assert!(t.carrier("sim-post").is_some());
    }

    #[test]
    fn a_light_domestic_parcel_goes_standard_with_the_cheapest_carrier() {
        let d = to("DE", "BE");
        let choice = table().choose(&parcel(&d, 1200, "")).unwrap();
        assert_eq!(choice.carrier, "sim-post");
        assert_eq!(choice.service_level, "standard");
        assert_eq!(choice.transit_days, 2);
    }

    #[test]
    fn express_is_only_offered_by_the_express_carrier() {
        let d = to("DE", "");
        let choice = table().choose(&parcel(&d, 1200, "express")).unwrap();
        assert_eq!(choice.carrier, "sim-express");
        assert_eq!(choice.transit_days, 1);
    }

    #[test]
    fn a_heavy_parcel_goes_to_the_freight_carrier() {
        let d = to("DE", "");
        let choice = table().choose(&parcel(&d, 45_000, "")).unwrap();
        assert_eq!(choice.carrier, "sim-freight");
    }

    #[test]
    fn the_region_changes_the_lane() {
        let t = table();
        let islands = to("ES", "CN");
        let mainland = to("ES", "MD");
        let far = t.choose(&parcel(&islands, 1000, "")).unwrap();
        let near = t.choose(&parcel(&mainland, 1000, "")).unwrap();
        assert!(far.transit_days > near.transit_days, "{far:?} {near:?}");
    }

    #[test]
    fn an_oversized_parcel_is_refused_by_size_limited_services() {
        let d = to("DE", "");
        let mut p = parcel(&d, 1000, "");
        p.dimensions = Some(Dimensions {
            length_mm: 1600,
            width_mm: 300,
            height_mm: 300,
        });
        assert_eq!(table().choose(&p).unwrap().carrier, "sim-freight");
    }

    #[test]
    fn a_preferred_carrier_is_used_or_the_choice_fails() {
        let t = table();
        let d = to("DE", "");
        let mut p = parcel(&d, 1000, "");
        p.preferred_carrier = "sim-express";
        assert_eq!(t.choose(&p).unwrap().carrier, "sim-express");
        p.preferred_carrier = "nope";
        assert_eq!(
            t.choose(&p),
            Err(ChoiceError::UnknownCarrier("nope".into()))
        );
        p.preferred_carrier = "sim-post";
        p.weight_grams = 40_000;
        assert!(matches!(t.choose(&p), Err(ChoiceError::NoService { .. })));
    }

    #[test]
    fn carrier_codes_map_onto_canonical_states() {
        let t = table();
        let post = t.carrier("sim-post").unwrap();
        assert_eq!(
            post.map_code("ZU").map(|m| m.status),
            Some(TrackingStatus::Delivered)
        );
        let express = t.carrier("sim-express").unwrap();
        assert_eq!(
            express.map_code("NH"),
            Some(CodeMapping {
                status: TrackingStatus::DeliveryFailed,
                failure_reason: Some(FailureReason::RecipientAbsent)
            })
        );
        assert_eq!(express.map_code("??"), None);
        assert_eq!(
            express.code_for(
                TrackingStatus::DeliveryFailed,
                Some(FailureReason::RecipientAbsent)
            ),
            "NH"
        );
    }

    #[test]
    fn an_inconsistent_table_is_refused() {
        let json = r#"{"currency":"EUR","carriers":[{"code":"Bad Code","name":"x",
            "tracking_prefix":"XX","codes":{},"services":[]}]}"#;
        assert!(RateTable::from_json(json).is_err());
    }
}
