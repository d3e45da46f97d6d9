//! Where a reservation's units come from.
//!
//! All or nothing: either every line is allocated, or the lines that cannot be are reported
//! and nothing is held. Routing, in order of preference:
//!
//! 1. **Store pickup**: only the pickup store; a line may use several of its bins.
//! 2. **One warehouse** that can serve every line, the nearest one (same region, then same
//!    country, then any; ties by warehouse id).
//! 3. **The split with the fewest warehouses**; among equally small splits the nearest
//!    (smallest sum of distance ranks). A line itself is split over warehouses only when the
//!    request allows it; otherwise each line comes from one warehouse.
//!
//! Inside a warehouse units are taken from bins in pick-path order. The search over splits is
//! exact up to [`EXACT_SEARCH_LIMIT`] candidate warehouses (those holding any requested SKU);
//! beyond that it keeps the nearest-first fill, which is valid but may use more warehouses.

use std::collections::{BTreeMap, HashMap};

/// Candidate warehouses up to which the fewest-warehouse split is searched exhaustively
/// (2^12 subsets at most, each checked in time linear in the lines).
pub const EXACT_SEARCH_LIMIT: usize = 12;

/// One line to reserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    pub line_id: String,
    pub sku: String,
    pub quantity: i32,
}

/// Units of a SKU available in one pickable bin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinSupply {
    pub bin: String,
    pub pick_sequence: i32,
    pub available: i32,
}

/// A warehouse that may serve the request, with what it has of the requested SKUs.
#[derive(Debug, Clone, Default)]
pub struct Site {
    pub warehouse_id: String,
    pub country_code: String,
    pub region: String,
    /// Per SKU, the pickable bins holding available units.
    pub supply: HashMap<String, Vec<BinSupply>>,
}

impl Site {
    fn available(&self, sku: &str) -> i32 {
        self.supply
            .get(sku)
            .map_or(0, |bins| bins.iter().map(|b| b.available.max(0)).sum())
    }
}

/// How the order reaches the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    Ship {
        country_code: String,
        region: String,
        allow_split: bool,
    },
    Pickup {
        store_id: String,
    },
}

/// Units of one line taken from one bin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinPick {
    pub bin: String,
    pub pick_sequence: i32,
    pub quantity: i32,
}

/// Units of one line held in one warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub line_id: String,
    pub sku: String,
    pub warehouse_id: String,
    /// In pick-path order; the quantities sum to [`Allocation::quantity`].
    pub bins: Vec<BinPick>,
}

impl Allocation {
    pub fn quantity(&self) -> i32 {
        self.bins.iter().map(|b| b.quantity).sum()
    }
}

/// A line that cannot be filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Short {
    pub line_id: String,
    pub sku: String,
    pub requested: i32,
    /// What the line could have had: the units left for it in the allowed warehouses (in one
    /// warehouse, the largest, when the line may not be split).
    pub available: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Reserved(Vec<Allocation>),
    Shortage(Vec<Short>),
}

/// Distance rank of a site from the destination: 0 same region, 1 same country, 2 elsewhere.
fn distance(site: &Site, country_code: &str, region: &str) -> u8 {
    if site.country_code == country_code {
        if !region.is_empty() && site.region == region {
            0
        } else {
            1
        }
    } else {
        2
    }
}

/// Decides where every line of the request comes from. `sites` are the warehouses allowed to
/// serve (active ones); their supply is what is available now.
pub fn allocate(lines: &[Demand], sites: &[Site], routing: &Routing) -> Outcome {
    let (mut candidates, split_lines): (Vec<(u8, &Site)>, bool) = match routing {
        Routing::Pickup { store_id } => (
            sites
                .iter()
                .filter(|s| &s.warehouse_id == store_id)
                .map(|s| (0, s))
                .collect(),
            false,
        ),
        Routing::Ship {
            country_code,
            region,
            allow_split,
        } => (
            sites
                .iter()
                .map(|s| (distance(s, country_code, region), s))
                .collect(),
            *allow_split,
        ),
    };
    candidates.sort_by(|a, b| (a.0, &a.1.warehouse_id).cmp(&(b.0, &b.1.warehouse_id)));
    // A warehouse holding none of the requested SKUs can never help.
    candidates.retain(|(_, site)| lines.iter().any(|l| site.available(&l.sku) > 0));
    let ordered: Vec<&Site> = candidates.iter().map(|(_, s)| *s).collect();

    let everything = match fill(lines, &ordered, split_lines) {
        Ok(allocations) => allocations,
        Err(shorts) => return Outcome::Shortage(shorts),
    };
    if ordered.len() > EXACT_SEARCH_LIMIT {
        return Outcome::Reserved(everything);
    }
    for size in 1..ordered.len() {
        let mut best: Option<(u32, Vec<Allocation>)> = None;
        for subset in combinations(ordered.len(), size) {
            let distance_sum: u32 = subset.iter().map(|&i| u32::from(candidates[i].0)).sum();
            if best.as_ref().is_some_and(|(d, _)| *d <= distance_sum) {
                continue;
            }
            let chosen: Vec<&Site> = subset.iter().map(|&i| ordered[i]).collect();
            if let Ok(allocations) = fill(lines, &chosen, split_lines) {
                best = Some((distance_sum, allocations));
            }
        }
        if let Some((_, allocations)) = best {
            return Outcome::Reserved(allocations);
        }
    }
    Outcome::Reserved(everything)
}

/// Fills every line from `sites` (nearest first), or reports the lines that cannot be filled.
fn fill(
    lines: &[Demand],
    sites: &[&Site],
    split_lines: bool,
) -> Result<Vec<Allocation>, Vec<Short>> {
    // Per (site, sku): bins with what is still free, in pick-path order.
    let mut free: HashMap<(usize, &str), Vec<BinSupply>> = HashMap::new();
    for (i, site) in sites.iter().enumerate() {
        for (sku, bins) in &site.supply {
            let mut bins: Vec<BinSupply> =
                bins.iter().filter(|b| b.available > 0).cloned().collect();
            bins.sort_by(|a, b| (a.pick_sequence, &a.bin).cmp(&(b.pick_sequence, &b.bin)));
            free.insert((i, sku.as_str()), bins);
        }
    }
    let left = |free: &HashMap<(usize, &str), Vec<BinSupply>>, i: usize, sku: &str| -> i32 {
        free.get(&(i, sku))
            .map_or(0, |bins| bins.iter().map(|b| b.available).sum())
    };

    let mut allocations = Vec::new();
    let mut shorts = Vec::new();
    for line in lines {
        let per_site: Vec<i32> = (0..sites.len())
            .map(|i| left(&free, i, &line.sku))
            .collect();
        let plan: Vec<(usize, i32)> = if split_lines {
            let total: i32 = per_site.iter().sum();
            if total < line.quantity {
                shorts.push(short(line, total));
                continue;
            }
            let mut need = line.quantity;
            per_site
                .iter()
                .enumerate()
                .filter_map(|(i, &have)| {
                    let take = need.min(have);
                    need -= take;
                    (take > 0).then_some((i, take))
                })
                .collect()
        } else {
            match per_site.iter().position(|&have| have >= line.quantity) {
                Some(i) => vec![(i, line.quantity)],
                None => {
                    shorts.push(short(line, per_site.iter().copied().max().unwrap_or(0)));
                    continue;
                }
            }
        };
        for (i, quantity) in plan {
            let bins = free
                .get_mut(&(i, line.sku.as_str()))
                .map(take_from_bins(quantity));
            allocations.push(Allocation {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                warehouse_id: sites[i].warehouse_id.clone(),
                bins: bins.unwrap_or_default(),
            });
        }
    }
    if shorts.is_empty() {
        Ok(allocations)
    } else {
        Err(shorts)
    }
}

fn short(line: &Demand, available: i32) -> Short {
    Short {
        line_id: line.line_id.clone(),
        sku: line.sku.clone(),
        requested: line.quantity,
        available,
    }
}

/// Takes `quantity` units from bins in order (the caller checked there are enough).
fn take_from_bins(quantity: i32) -> impl FnOnce(&mut Vec<BinSupply>) -> Vec<BinPick> {
    move |bins| {
        let mut need = quantity;
        let mut picks = Vec::new();
        for bin in bins.iter_mut() {
            if need == 0 {
                break;
            }
            let take = need.min(bin.available);
            if take > 0 {
                bin.available -= take;
                need -= take;
                picks.push(BinPick {
                    bin: bin.bin.clone(),
                    pick_sequence: bin.pick_sequence,
                    quantity: take,
                });
            }
        }
        picks
    }
}

/// Every `k`-subset of `0..n`, in lexicographic order.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    fn walk(start: usize, n: usize, k: usize, current: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if current.len() == k {
            out.push(current.clone());
            return;
        }
        for i in start..n {
            if n - i < k - current.len() {
                break;
            }
            current.push(i);
            walk(i + 1, n, k, current, out);
            current.pop();
        }
    }
    let mut out = Vec::new();
    walk(0, n, k, &mut Vec::with_capacity(k), &mut out);
    out
}

/// Units per (warehouse, sku, bin) of a set of allocations: what they take from stock.
pub fn units_by_bin(allocations: &[Allocation]) -> BTreeMap<(String, String, String), i32> {
    let mut units = BTreeMap::new();
    for a in allocations {
        for b in &a.bins {
            *units
                .entry((a.sku.clone(), a.warehouse_id.clone(), b.bin.clone()))
                .or_insert(0) += b.quantity;
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn site(id: &str, country: &str, region: &str, stock: &[(&str, &str, i32)]) -> Site {
        let mut supply: HashMap<String, Vec<BinSupply>> = HashMap::new();
        for (i, (sku, bin, available)) in stock.iter().enumerate() {
            supply.entry((*sku).into()).or_default().push(BinSupply {
                bin: (*bin).into(),
                pick_sequence: i as i32,
                available: *available,
            });
        }
        Site {
            warehouse_id: id.into(),
            country_code: country.into(),
            region: region.into(),
            supply,
        }
    }

    fn line(id: &str, sku: &str, quantity: i32) -> Demand {
        Demand {
            line_id: id.into(),
            sku: sku.into(),
            quantity,
        }
    }

    fn ship(split: bool) -> Routing {
        Routing::Ship {
            country_code: "DE".into(),
            region: "BE".into(),
            allow_split: split,
        }
    }

    fn warehouses(outcome: &Outcome) -> Vec<String> {
        let Outcome::Reserved(allocations) = outcome else {
            panic!("expected a reservation, got {outcome:?}");
        };
        let mut ids: Vec<String> = allocations.iter().map(|a| a.warehouse_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    #[test]
    fn one_warehouse_that_has_everything_wins_over_a_nearer_split() {
        let sites = [
            site("near", "DE", "BE", &[("A", "1", 5)]),
            site("far", "FR", "", &[("A", "1", 5), ("B", "1", 5)]),
            site("mid", "DE", "BY", &[("B", "1", 5)]),
        ];
        let outcome = allocate(
            &[line("L1", "A", 2), line("L2", "B", 1)],
            &sites,
            &ship(true),
        );
        assert_eq!(warehouses(&outcome), ["far"]);
    }

    #[test]
    fn among_single_warehouses_the_nearest_region_then_country_serves() {
        let stock = [("A", "1", 5)];
        let sites = [
            site("z-far", "FR", "", &stock),
            site("y-country", "DE", "HH", &stock),
            site("x-region", "DE", "BE", &stock),
        ];
        let lines = [line("L1", "A", 2)];
        assert_eq!(
            warehouses(&allocate(&lines, &sites, &ship(true))),
            ["x-region"]
        );
        assert_eq!(
            warehouses(&allocate(&lines, &sites[..2], &ship(true))),
            ["y-country"]
        );
    }

    #[test]
    fn a_split_uses_the_fewest_warehouses_and_then_the_nearest() {
        let sites = [
            site("a", "DE", "BE", &[("A", "1", 1)]),
            site("b", "DE", "BE", &[("B", "1", 1)]),
            site("c", "DE", "BE", &[("C", "1", 1)]),
            site("far-ab", "FR", "", &[("A", "1", 1), ("B", "1", 1)]),
            site("near-bc", "DE", "HH", &[("B", "1", 1), ("C", "1", 1)]),
        ];
        let lines = [line("L1", "A", 1), line("L2", "B", 1), line("L3", "C", 1)];
        // Two warehouses suffice: {a, near-bc} (ranks 0 + 1) beats {far-ab, c} (2 + 0).
        assert_eq!(
            warehouses(&allocate(&lines, &sites, &ship(false))),
            ["a", "near-bc"]
        );
    }

    #[test]
    fn a_line_is_split_over_warehouses_only_when_allowed() {
        let sites = [
            site("a", "DE", "BE", &[("A", "1", 3)]),
            site("b", "DE", "BE", &[("A", "1", 3)]),
        ];
        let lines = [line("L1", "A", 5)];
        let Outcome::Reserved(split) = allocate(&lines, &sites, &ship(true)) else {
            panic!("split allowed");
        };
        assert_eq!(
            split.iter().map(Allocation::quantity).collect::<Vec<_>>(),
            [3, 2]
        );
        assert_eq!(
            allocate(&lines, &sites, &ship(false)),
            Outcome::Shortage(vec![Short {
                line_id: "L1".into(),
                sku: "A".into(),
                requested: 5,
                available: 3,
            }])
        );
    }

    #[test]
    fn a_line_takes_bins_in_pick_path_order() {
        let sites = [site(
            "a",
            "DE",
            "BE",
            &[("A", "first", 2), ("A", "second", 5)],
        )];
        let Outcome::Reserved(allocations) = allocate(&[line("L1", "A", 4)], &sites, &ship(false))
        else {
            panic!("enough stock");
        };
        let picks: Vec<(&str, i32)> = allocations[0]
            .bins
            .iter()
            .map(|b| (b.bin.as_str(), b.quantity))
            .collect();
        assert_eq!(picks, [("first", 2), ("second", 2)]);
    }

    #[test]
    fn pickup_reserves_only_at_the_store_and_reports_its_shortage() {
        let sites = [
            site("store", "DE", "BE", &[("A", "1", 1)]),
            site("dc", "DE", "BE", &[("A", "1", 50)]),
        ];
        let pickup = Routing::Pickup {
            store_id: "store".into(),
        };
        assert_eq!(
            warehouses(&allocate(&[line("L1", "A", 1)], &sites, &pickup)),
            ["store"]
        );
        assert_eq!(
            allocate(&[line("L1", "A", 2)], &sites, &pickup),
            Outcome::Shortage(vec![Short {
                line_id: "L1".into(),
                sku: "A".into(),
                requested: 2,
                available: 1,
            }])
        );
    }

    #[test]
    fn a_shortage_names_only_the_short_lines_and_counts_earlier_lines_of_the_same_sku() {
        let sites = [site("a", "DE", "BE", &[("A", "1", 3), ("B", "1", 9)])];
        let outcome = allocate(
            &[line("L1", "A", 2), line("L2", "B", 1), line("L3", "A", 2)],
            &sites,
            &ship(true),
        );
        assert_eq!(
            outcome,
            Outcome::Shortage(vec![Short {
                line_id: "L3".into(),
                sku: "A".into(),
                requested: 2,
                available: 1,
            }])
        );
    }

    fn arb_case() -> impl Strategy<Value = (Vec<Site>, Vec<Demand>, bool)> {
        let skus = ["A", "B", "C"];
        let sites = prop::collection::vec(
            (
                prop::sample::select(vec!["DE", "FR"]),
                prop::sample::select(vec!["BE", "HH"]),
                prop::collection::vec((0usize..3, 0usize..3, 0i32..6), 0..6),
            ),
            0..6,
        )
        .prop_map(move |raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (country, region, stock))| {
                    let mut supply: HashMap<String, Vec<BinSupply>> = HashMap::new();
                    for (sku, bin, available) in stock {
                        let bins = supply.entry(skus[sku].to_owned()).or_default();
                        if bins.iter().all(|b| b.bin != format!("bin{bin}")) {
                            bins.push(BinSupply {
                                bin: format!("bin{bin}"),
                                pick_sequence: bin as i32,
                                available,
                            });
                        }
                    }
                    Site {
                        warehouse_id: format!("w{i}"),
                        country_code: country.to_owned(),
                        region: region.to_owned(),
                        supply,
                    }
                })
                .collect::<Vec<_>>()
        });
        let lines = prop::collection::vec((0usize..3, 1i32..6), 1..5).prop_map(move |raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (sku, quantity))| line(&format!("L{i}"), skus[sku], quantity))
                .collect::<Vec<_>>()
        });
        (sites, lines, any::<bool>())
    }

    proptest! {
        #[test]
        fn allocations_never_take_more_than_a_bin_has_and_fill_every_line_exactly(
            (sites, lines, split) in arb_case()
        ) {
            match allocate(&lines, &sites, &ship(split)) {
                Outcome::Reserved(allocations) => {
                    for ((sku, warehouse, bin), units) in units_by_bin(&allocations) {
                        let site = sites.iter().find(|s| s.warehouse_id == warehouse).unwrap();
                        let supply = site.supply[&sku].iter().find(|b| b.bin == bin).unwrap();
                        prop_assert!(units <= supply.available);
                    }
                    for line in &lines {
                        let of_line: Vec<&Allocation> =
                            allocations.iter().filter(|a| a.line_id == line.line_id).collect();
                        let total: i32 = of_line.iter().map(|a| a.quantity()).sum();
                        prop_assert_eq!(total, line.quantity);
                        prop_assert!(of_line.iter().all(|a| a.sku == line.sku));
                        if !split {
                            prop_assert_eq!(of_line.len(), 1);
                        }
                    }
                }
                Outcome::Shortage(shorts) => {
                    prop_assert!(!shorts.is_empty());
                    for s in &shorts {
                        prop_assert!(s.available < s.requested);
                    }
                }
            }
        }

        #[test]
        fn with_splitting_allowed_a_request_is_filled_exactly_when_every_sku_has_enough(
            (sites, lines, _split) in arb_case()
        ) {
            let mut wanted: HashMap<&str, i32> = HashMap::new();
            for l in &lines {
                *wanted.entry(l.sku.as_str()).or_default() += l.quantity;
            }
            let enough = wanted.iter().all(|(sku, want)| {
                sites.iter().map(|s| s.available(sku)).sum::<i32>() >= *want
            });
            let reserved = matches!(allocate(&lines, &sites, &ship(true)), Outcome::Reserved(_));
            prop_assert_eq!(reserved, enough);
        }

        #[test]
        fn when_one_warehouse_can_serve_everything_exactly_one_is_used(
            (sites, lines, split) in arb_case()
        ) {
            let mut wanted: HashMap<&str, i32> = HashMap::new();
            for l in &lines {
                *wanted.entry(l.sku.as_str()).or_default() += l.quantity;
            }
            let single = sites
                .iter()
                .any(|s| wanted.iter().all(|(sku, want)| s.available(sku) >= *want));
            if single {
                let outcome = allocate(&lines, &sites, &ship(split));
                let used: HashSet<String> = warehouses(&outcome).into_iter().collect();
                prop_assert_eq!(used.len(), 1);
            }
        }
    }
}
