//! Pick lists: every unit a wave needs, walked along the warehouse's pick path, with the
//! quantities of one SKU in one bin summed so the picker visits each bin once.

use serde::{Deserialize, Serialize};

/// One bin of an allocation, as inventory chose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinShare {
    pub bin: String,
    pub quantity: i32,
    /// Position of the bin along the pick path (lower first).
    pub pick_sequence: i32,
}

/// A line of a fulfilment to pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToPick {
    pub fulfillment_id: String,
    pub line_id: String,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub bins: Vec<BinShare>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub sequence: i32,
    pub bin: String,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    /// Set when the stop serves one fulfilment line only.
    pub fulfillment_id: String,
    pub line_id: String,
}

/// The stops of a wave in pick-path order. Units without a bin (inventory allocated no bin)
/// come last, under bin `""`.
pub fn pick_list(lines: &[ToPick]) -> Vec<Stop> {
    let mut stops: Vec<(i32, Stop)> = Vec::new();
    for line in lines {
        let mut shares = line.bins.clone();
        let binned: i32 = shares.iter().map(|b| b.quantity).sum();
        if binned < line.quantity {
            shares.push(BinShare {
                bin: String::new(),
                quantity: line.quantity - binned,
                pick_sequence: i32::MAX,
            });
        }
        for share in shares.into_iter().filter(|s| s.quantity > 0) {
            match stops
                .iter_mut()
                .find(|(_, s)| s.bin == share.bin && s.sku == line.sku)
            {
                Some((_, stop)) => {
                    stop.quantity += share.quantity;
                    stop.fulfillment_id.clear();
                    stop.line_id.clear();
                }
                None => stops.push((
                    share.pick_sequence,
                    Stop {
                        sequence: 0,
                        bin: share.bin,
                        sku: line.sku.clone(),
                        name: line.name.clone(),
                        quantity: share.quantity,
                        fulfillment_id: line.fulfillment_id.clone(),
                        line_id: line.line_id.clone(),
                    },
                )),
            }
        }
    }
    stops.sort_by(|(a, sa), (b, sb)| {
        a.cmp(b)
            .then_with(|| sa.bin.cmp(&sb.bin))
            .then_with(|| sa.sku.cmp(&sb.sku))
    });
    stops
        .into_iter()
        .enumerate()
        .map(|(i, (_, mut stop))| {
            stop.sequence = i as i32 + 1;
            stop
        })
        .collect()
}

/// The bins of a line whose quantity an order update changed without inventory naming bins:
/// its units stay in the bins they were allocated from, earliest on the pick path first, up to
/// the new quantity. Units beyond those have no bin yet (the pick list puts them last).
pub fn keep_bins(previous: &[BinShare], quantity: i32) -> Vec<BinShare> {
    let mut along_path = previous.to_vec();
    along_path.sort_by_key(|b| b.pick_sequence);
    let mut left = quantity;
    let mut kept = Vec::new();
    for share in along_path {
        if left <= 0 {
            break;
        }
        let quantity = share.quantity.min(left);
        if quantity > 0 {
            left -= quantity;
            kept.push(BinShare { quantity, ..share });
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn line(f: &str, sku: &str, qty: i32, bins: &[(&str, i32, i32)]) -> ToPick {
        ToPick {
            fulfillment_id: f.into(),
            line_id: "L1".into(),
            sku: sku.into(),
            name: sku.into(),
            quantity: qty,
            bins: bins
                .iter()
                .map(|(bin, quantity, seq)| BinShare {
                    bin: (*bin).into(),
                    quantity: *quantity,
                    pick_sequence: *seq,
                })
                .collect(),
        }
    }

    #[test]
    fn stops_follow_the_pick_path_and_sum_per_bin_and_sku() {
        let list = pick_list(&[
            line("f1", "TEA", 3, &[("B-2", 3, 20)]),
            line("f2", "TEA", 2, &[("B-2", 2, 20)]),
            line("f2", "CUP", 1, &[("A-1", 1, 10)]),
        ]);
        let stops: Vec<_> = list
            .iter()
            .map(|s| (s.sequence, s.bin.as_str(), s.sku.as_str(), s.quantity))
            .collect();
        assert_eq!(stops, [(1, "A-1", "CUP", 1), (2, "B-2", "TEA", 5)]);
        assert!(
            list[1].fulfillment_id.is_empty(),
            "a shared stop names no single fulfilment"
        );
        assert_eq!(list[0].fulfillment_id, "f2");
    }

    #[test]
    fn an_update_keeps_the_units_in_their_bins_along_the_path() {
        let before = line("f", "TEA", 5, &[("B-2", 3, 20), ("A-1", 2, 10)]).bins;
        let fewer: Vec<_> = keep_bins(&before, 3)
            .iter()
            .map(|b| (b.bin.clone(), b.quantity))
            .collect();
        assert_eq!(fewer, [("A-1".to_owned(), 2), ("B-2".to_owned(), 1)]);
        let more: i32 = keep_bins(&before, 8).iter().map(|b| b.quantity).sum();
        assert_eq!(more, 5, "added units have no bin yet");
    }

    proptest! {
        #[test]
        fn every_unit_is_on_the_list_exactly_once(
            quantities in proptest::collection::vec((1i32..20, 0i32..20, 0i32..5), 1..10)
        ) {
            let lines: Vec<ToPick> = quantities
                .iter()
                .enumerate()
                .map(|(i, (qty, binned, seq))| {
                    let binned = (*binned).min(*qty);
                    line(&format!("f{i}"), &format!("S{}", i % 3), *qty, &[(&format!("bin{seq}"), binned, *seq)])
                })
                .collect();
            let list = pick_list(&lines);
            let wanted: i32 = lines.iter().map(|l| l.quantity).sum();
            prop_assert_eq!(list.iter().map(|s| s.quantity).sum::<i32>(), wanted);
            let mut seqs: Vec<i32> = list.iter().map(|s| s.sequence).collect();
            seqs.dedup();
            prop_assert_eq!(seqs.len(), list.len());
        }
    }
}
