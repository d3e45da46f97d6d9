//! The contracts every service and every outside client shares: protobuf messages and tonic
//! clients/servers generated from `proto/` (no system `protoc`: protox compiles them in
//! `build.rs`), the encoded descriptor set served through gRPC reflection, and the [`Event`]
//! trait that ties each event message to its NATS subject.
//!
//! Generated packages keep their protobuf nesting (`ordercycle::orders::v1`) and are re-exported
//! as short names: `contracts::orders::OrderPlaced`.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

mod events;

pub use events::{EVENTS, Event, EventInfo, catalogue_markdown};

/// Generated code, one module per protobuf package.
pub mod ordercycle {
    macro_rules! package {
        ($name:ident, $file:literal) => {
            pub mod $name {
                pub mod v1 {
                    include!(concat!(env!("OUT_DIR"), "/", $file));
                }
            }
        };
    }
    package!(common, "ordercycle.common.v1.rs");
    package!(orders, "ordercycle.orders.v1.rs");
    package!(inventory, "ordercycle.inventory.v1.rs");
    package!(payments, "ordercycle.payments.v1.rs");
    package!(fulfillment, "ordercycle.fulfillment.v1.rs");
    package!(shipping, "ordercycle.shipping.v1.rs");
    package!(notifications, "ordercycle.notifications.v1.rs");
    package!(feedback, "ordercycle.feedback.v1.rs");
    package!(analytics, "ordercycle.analytics.v1.rs");
}

pub use ordercycle::analytics::v1 as analytics;
pub use ordercycle::common::v1 as common;
pub use ordercycle::feedback::v1 as feedback;
pub use ordercycle::fulfillment::v1 as fulfillment;
pub use ordercycle::inventory::v1 as inventory;
pub use ordercycle::notifications::v1 as notifications;
pub use ordercycle::orders::v1 as orders;
pub use ordercycle::payments::v1 as payments;
pub use ordercycle::shipping::v1 as shipping;

/// Every ordercycle `.proto` file (with the well-known types they import), encoded as a
/// `google.protobuf.FileDescriptorSet`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

pub mod time;
