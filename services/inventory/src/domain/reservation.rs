//! A reservation: its status, what it holds per line, warehouse and bin, and how a release or a
//! commit moves units out of "held".
//!
//! ```text
//! RESERVED ──confirm──▶ FIRM ──commit (part)──▶ PARTIALLY_COMMITTED ──commit (rest)──▶ COMMITTED
//!    │  └──TTL──▶ EXPIRED      │                        │
//!    └──────release───────────┴───────release───────────┴──▶ RELEASED (nothing committed)
//! SHORTAGE: could not be filled, nothing held.
//! ```
//! A commit may also come straight after RESERVED (the confirmation is handled by another
//! consumer and may arrive later): goods handed over prove the order went ahead.

use chrono::{DateTime, Utc};

use super::text_enum;

text_enum!(
    ReservationStatus {
        Reserved = "RESERVED",
        Firm = "FIRM",
        PartiallyCommitted = "PARTIALLY_COMMITTED",
        Committed = "COMMITTED",
        Released = "RELEASED",
        Expired = "EXPIRED",
        Shortage = "SHORTAGE",
    }
);

impl ReservationStatus {
    /// Whether the reservation may still hold units.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Reserved | Self::Firm | Self::PartiallyCommitted)
    }
}

text_enum!(
    /// What an order update did to a reservation: added units, or gave some back.
    UpdateKind {
        Amend = "AMEND",
        Release = "RELEASE",
    }
);

text_enum!(
    /// The answer to an amendment.
    AmendOutcome {
        Amended = "AMENDED",
        Refused = "REFUSED",
    }
);

/// A reservation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub id: String,
    pub order_id: String,
    pub order_number: String,
    pub status: ReservationStatus,
    pub fulfillment_mode: String,
    pub pickup_store_id: String,
    /// Set while unconfirmed.
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub allocations: Vec<Held>,
}

/// Units of one line held in one bin, and what became of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub line_id: String,
    pub sku: String,
    pub warehouse_id: String,
    pub bin: String,
    pub pick_sequence: i32,
    pub quantity: i32,
    pub committed: i32,
    pub released: i32,
}

impl Held {
    /// Units still held.
    pub fn held(&self) -> i32 {
        self.quantity - self.committed - self.released
    }

    fn key(&self) -> (&str, &str, &str) {
        (&self.line_id, &self.warehouse_id, &self.bin)
    }
}

/// Units to move out of one [`Held`] (by index into the reservation's allocations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Take {
    pub index: usize,
    pub quantity: i32,
}

/// The status after a release or commit changed the allocations of an open reservation.
pub fn status_after(current: ReservationStatus, allocations: &[Held]) -> ReservationStatus {
    let held: i32 = allocations.iter().map(Held::held).sum();
    let committed: i32 = allocations.iter().map(|a| a.committed).sum();
    match (held, committed) {
        (0, 0) => ReservationStatus::Released,
        (0, _) => ReservationStatus::Committed,
        (_, c) if c > 0 => ReservationStatus::PartiallyCommitted,
        _ => current,
    }
}

/// One line of a release request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRelease {
    pub line_id: String,
    pub quantity: i32,
}

/// What to release: everything held when `lines` is empty, else up to each line's quantity,
/// last-picked bins first. Lines the reservation does not hold are ignored (the units are
/// already gone), so releasing is idempotent by state.
pub fn plan_release(allocations: &[Held], lines: &[LineRelease]) -> Vec<Take> {
    if lines.is_empty() {
        return allocations
            .iter()
            .enumerate()
            .filter(|(_, a)| a.held() > 0)
            .map(|(index, a)| Take {
                index,
                quantity: a.held(),
            })
            .collect();
    }
    let mut takes = Vec::new();
    for line in lines {
        let mut need = line.quantity;
        let mut of_line: Vec<(usize, &Held)> = allocations
            .iter()
            .enumerate()
            .filter(|(_, a)| a.line_id == line.line_id && a.held() > 0)
            .collect();
        of_line.sort_by(|a, b| {
            (&b.1.warehouse_id, b.1.pick_sequence).cmp(&(&a.1.warehouse_id, a.1.pick_sequence))
        });
        for (index, a) in of_line {
            if need == 0 {
                break;
            }
            let quantity = need.min(a.held());
            need -= quantity;
            takes.push(Take { index, quantity });
        }
    }
    takes
}

/// Units of one line in one warehouse, to commit (handed over) or to release exactly; `bins`
/// empty means "from that line's bins there".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineUnits {
    pub line_id: String,
    pub warehouse_id: String,
    pub quantity: i32,
    pub bins: Vec<(String, i32)>,
}

/// Indexes of the line's allocations in the warehouse, in pick-path order.
fn in_pick_order(allocations: &[Held], line_id: &str, warehouse_id: &str) -> Vec<usize> {
    let mut indexes: Vec<usize> = (0..allocations.len())
        .filter(|&i| {
            allocations[i].line_id == line_id && allocations[i].warehouse_id == warehouse_id
        })
        .collect();
    indexes.sort_by(|&a, &b| {
        (allocations[a].pick_sequence, &allocations[a].bin)
            .cmp(&(allocations[b].pick_sequence, &allocations[b].bin))
    });
    indexes
}

/// Index of the line's allocation in that warehouse's bin.
fn in_bin(allocations: &[Held], line_id: &str, warehouse_id: &str, bin: &str) -> Option<usize> {
    allocations
        .iter()
        .position(|a| a.key() == (line_id, warehouse_id, bin))
}

/// Takes up to `need` units from `indexes` in that order, counting them off `left`; returns
/// what was taken.
fn take_in_order(left: &mut [i32], indexes: &[usize], need: i32, takes: &mut Vec<Take>) -> i32 {
    let mut taken = 0;
    for &index in indexes {
        let quantity = (need - taken).min(left[index]);
        if quantity > 0 {
            left[index] -= quantity;
            taken += quantity;
            takes.push(Take { index, quantity });
        }
    }
    taken
}

/// What an exact release gives back: per entry, the line's units in that warehouse (its bins
/// there, last-picked first, or the named bins). Units no longer held are skipped, so the
/// release gives back what it can; the second value is the units asked for but not held.
pub fn plan_exact_release(allocations: &[Held], units: &[LineUnits]) -> (Vec<Take>, i32) {
    let mut left: Vec<i32> = allocations.iter().map(Held::held).collect();
    let mut takes = Vec::new();
    let mut missing = 0;
    for u in units {
        if u.bins.is_empty() {
            let mut indexes = in_pick_order(allocations, &u.line_id, &u.warehouse_id);
            indexes.reverse();
            missing += u.quantity - take_in_order(&mut left, &indexes, u.quantity, &mut takes);
        } else {
            for (bin, quantity) in &u.bins {
                let indexes: Vec<usize> = in_bin(allocations, &u.line_id, &u.warehouse_id, bin)
                    .into_iter()
                    .collect();
                missing += quantity - take_in_order(&mut left, &indexes, *quantity, &mut takes);
            }
        }
    }
    (takes, missing)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("line {line_id} holds nothing in warehouse {warehouse_id} bin {bin}")]
    NotHeld {
        line_id: String,
        warehouse_id: String,
        bin: String,
    },
    #[error(
        "line {line_id} in warehouse {warehouse_id}: {requested} units to commit but {held} held"
    )]
    MoreThanHeld {
        line_id: String,
        warehouse_id: String,
        requested: i32,
        held: i32,
    },
}

/// What a commit request takes from the held units. Committing more than is held is refused:
/// stock handed over without being held means the books are wrong, which a person must see.
pub fn plan_commit(allocations: &[Held], lines: &[LineUnits]) -> Result<Vec<Take>, CommitError> {
    let mut left: Vec<i32> = allocations.iter().map(Held::held).collect();
    let mut takes = Vec::new();
    let more_than_held = |line: &LineUnits, requested: i32, held: i32| CommitError::MoreThanHeld {
        line_id: line.line_id.clone(),
        warehouse_id: line.warehouse_id.clone(),
        requested,
        held,
    };
    for line in lines {
        if line.bins.is_empty() {
            let indexes = in_pick_order(allocations, &line.line_id, &line.warehouse_id);
            let held: i32 = indexes.iter().map(|&i| left[i]).sum();
            if held < line.quantity {
                return Err(more_than_held(line, line.quantity, held));
            }
            take_in_order(&mut left, &indexes, line.quantity, &mut takes);
        } else {
            for (bin, quantity) in &line.bins {
                let index = in_bin(allocations, &line.line_id, &line.warehouse_id, bin)
                    .ok_or_else(|| CommitError::NotHeld {
                        line_id: line.line_id.clone(),
                        warehouse_id: line.warehouse_id.clone(),
                        bin: bin.clone(),
                    })?;
                if left[index] < *quantity {
                    return Err(more_than_held(line, *quantity, left[index]));
                }
                take_in_order(&mut left, &[index], *quantity, &mut takes);
            }
        }
    }
    Ok(takes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(line: &str, warehouse: &str, bin: &str, seq: i32, quantity: i32) -> Held {
        Held {
            line_id: line.into(),
            sku: "S".into(),
            warehouse_id: warehouse.into(),
            bin: bin.into(),
            pick_sequence: seq,
            quantity,
            committed: 0,
            released: 0,
        }
    }

    fn apply(allocations: &mut [Held], takes: &[Take], commit: bool) {
        for t in takes {
            if commit {
                allocations[t.index].committed += t.quantity;
            } else {
                allocations[t.index].released += t.quantity;
            }
        }
    }

    #[test]
    fn releasing_everything_twice_releases_once() {
        let mut a = vec![held("L1", "W", "A", 1, 2), held("L2", "W", "B", 2, 3)];
        let takes = plan_release(&a, &[]);
        apply(&mut a, &takes, false);
        assert_eq!(a.iter().map(Held::held).sum::<i32>(), 0);
        assert!(plan_release(&a, &[]).is_empty());
        assert_eq!(
            status_after(ReservationStatus::Firm, &a),
            ReservationStatus::Released
        );
    }

    #[test]
    fn a_partial_release_takes_from_the_last_picked_bin_first() {
        let a = vec![held("L1", "W", "A", 1, 2), held("L1", "W", "B", 2, 3)];
        let takes = plan_release(
            &a,
            &[LineRelease {
                line_id: "L1".into(),
                quantity: 4,
            }],
        );
        assert_eq!(
            takes,
            [
                Take {
                    index: 1,
                    quantity: 3
                },
                Take {
                    index: 0,
                    quantity: 1
                }
            ]
        );
    }

    #[test]
    fn commits_move_the_status_to_partially_then_fully_committed() {
        let mut a = vec![held("L1", "W1", "A", 1, 2), held("L2", "W2", "B", 1, 1)];
        let first = plan_commit(
            &a,
            &[LineUnits {
                line_id: "L1".into(),
                warehouse_id: "W1".into(),
                quantity: 2,
                bins: vec![],
            }],
        )
        .unwrap();
        apply(&mut a, &first, true);
        assert_eq!(
            status_after(ReservationStatus::Firm, &a),
            ReservationStatus::PartiallyCommitted
        );
        let second = plan_commit(
            &a,
            &[LineUnits {
                line_id: "L2".into(),
                warehouse_id: "W2".into(),
                quantity: 1,
                bins: vec![("B".into(), 1)],
            }],
        )
        .unwrap();
        apply(&mut a, &second, true);
        assert_eq!(
            status_after(ReservationStatus::PartiallyCommitted, &a),
            ReservationStatus::Committed
        );
    }

    #[test]
    fn committing_more_than_is_held_or_from_another_bin_is_refused() {
        let a = vec![held("L1", "W", "A", 1, 2)];
        let too_many = LineUnits {
            line_id: "L1".into(),
            warehouse_id: "W".into(),
            quantity: 3,
            bins: vec![],
        };
        assert!(matches!(
            plan_commit(&a, &[too_many]),
            Err(CommitError::MoreThanHeld { held: 2, .. })
        ));
        let elsewhere = LineUnits {
            line_id: "L1".into(),
            warehouse_id: "W".into(),
            quantity: 1,
            bins: vec![("Z".into(), 1)],
        };
        assert!(matches!(
            plan_commit(&a, &[elsewhere]),
            Err(CommitError::NotHeld { .. })
        ));
    }

    fn units(line: &str, warehouse: &str, quantity: i32, bins: &[(&str, i32)]) -> LineUnits {
        LineUnits {
            line_id: line.into(),
            warehouse_id: warehouse.into(),
            quantity,
            bins: bins.iter().map(|(b, q)| ((*b).into(), *q)).collect(),
        }
    }

    #[test]
    fn an_exact_release_takes_the_lines_last_picked_bins_in_that_warehouse_only() {
        let a = vec![
            held("L1", "W1", "A", 1, 2),
            held("L1", "W1", "B", 2, 2),
            held("L1", "W2", "C", 1, 5),
            held("L2", "W1", "B", 2, 5),
        ];
        let (takes, missing) = plan_exact_release(&a, &[units("L1", "W1", 3, &[])]);
        assert_eq!(
            takes,
            [
                Take {
                    index: 1,
                    quantity: 2
                },
                Take {
                    index: 0,
                    quantity: 1
                }
            ]
        );
        assert_eq!(missing, 0);
    }

    #[test]
    fn an_exact_release_of_more_than_is_held_gives_back_what_is_held() {
        let mut a = vec![held("L1", "W", "A", 1, 2), held("L1", "W", "B", 2, 2)];
        a[1].released = 1;
        let (takes, missing) = plan_exact_release(
            &a,
            &[
                units("L1", "W", 1, &[("A", 1)]),
                units("L1", "W", 5, &[]),
                units("L9", "W", 1, &[]),
                units("L1", "W", 1, &[("Z", 1)]),
            ],
        );
        apply(&mut a, &takes, false);
        assert_eq!(a.iter().map(Held::held).sum::<i32>(), 0);
        // 3 were held: 1 from the named bin, 2 of the 5; the unknown line and bin hold none.
        assert_eq!(missing, 3 + 1 + 1);
    }

    #[test]
    fn a_release_after_a_partial_commit_leaves_the_reservation_committed() {
        let mut a = vec![held("L1", "W", "A", 1, 2), held("L2", "W", "B", 2, 1)];
        a[0].committed = 2;
        let takes = plan_release(&a, &[]);
        apply(&mut a, &takes, false);
        assert_eq!(
            status_after(ReservationStatus::PartiallyCommitted, &a),
            ReservationStatus::Committed
        );
    }
}
