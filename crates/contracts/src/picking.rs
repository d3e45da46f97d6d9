//! What a warehouse confirms when it picks a fulfilment exactly as inventory allocated it —
//! the picking the demo, the operator command `fulfil pick` and the benchmark's warehouse all do.

use crate::fulfillment::{Fulfillment, PickedLine};

impl Fulfillment {
    /// Every allocated bin with its units; a line without allocations is picked as listed.
    pub fn picked_as_allocated(&self) -> Vec<PickedLine> {
        self.lines
            .iter()
            .flat_map(|line| {
                if line.bins.is_empty() {
                    vec![PickedLine {
                        line_id: line.line_id.clone(),
                        bin: String::new(),
                        quantity: line.quantity,
                    }]
                } else {
                    line.bins
                        .iter()
                        .map(|b| PickedLine {
                            line_id: line.line_id.clone(),
                            bin: b.bin.clone(),
                            quantity: b.quantity,
                        })
                        .collect()
                }
            })
            .collect()
    }
}
