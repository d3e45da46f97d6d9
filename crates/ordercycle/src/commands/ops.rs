//! `stock`, `fulfil`, `ship` and `cases`: inventory, the warehouse floor, carriers, support.

use anyhow::Context as _;
use clap::Subcommand;
use contracts::common::{CaseResolution, Dimensions, LabelFormat, Money};
use contracts::feedback::{CaseStatus, ListCasesRequest, ResolveCaseRequest, SupportCase};
use contracts::fulfillment::{
    ConfirmPickRequest, CreatePickWaveRequest, Fulfillment, GetFulfillmentRequest, HandOverRequest,
    PackParcelRequest, ParcelLine, ParcelStatus, PrintLabelRequest,
};
use contracts::inventory::{
    GetAvailabilityRequest, GetItemRequest, ListLowStockRequest, ReceiveStockRequest,
};
use contracts::shipping::{
    TrackShipmentRequest, TrackingInfo, TrackingStatus, WatchShipmentRequest,
};
use serde_json::{Value, json};

use super::{Out, money, short, when};
use crate::clients::{Clients, Rpc as _, Traced};

#[derive(Subcommand, Debug)]
pub enum StockCmd {
    /// Goods arrived: add QUANTITY of SKU to WAREHOUSE.
    Receive {
        sku: String,
        warehouse: String,
        quantity: i32,
        #[arg(long, default_value = "")]
        bin: String,
    },
    /// Availability of a SKU per warehouse.
    Show { sku: String },
    /// SKUs at or below their reorder point.
    Low {
        #[arg(long, default_value = "")]
        warehouse: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum FulfilCmd {
    /// Open a pick wave in WAREHOUSE (all pending fulfillments, or the given ones).
    Wave {
        warehouse: String,
        #[arg(long = "fulfillment")]
        fulfillments: Vec<String>,
        #[arg(long, default_value_t = 0)]
        max: i32,
    },
    /// Confirm a fulfillment picked as allocated.
    Pick {
        fulfillment: String,
        #[arg(long, default_value = "cli-picker")]
        by: String,
    },
    /// Pack every line of a fulfillment into one parcel.
    Pack {
        fulfillment: String,
        /// Weight on the scale (default: the catalog weights).
        #[arg(long)]
        weight: Option<i32>,
        #[arg(long, default_value = "")]
        carrier: String,
        #[arg(long, default_value = "cli-packer")]
        by: String,
    },
    /// Print a parcel's label (written to --out, or its size reported).
    Label {
        parcel: String,
        /// pdf, zpl or png.
        #[arg(long, default_value = "pdf")]
        format: String,
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Hand every packed parcel of a fulfillment to the carrier.
    Handover {
        fulfillment: String,
        #[arg(long, default_value = "cli-dock")]
        by: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ShipCmd {
    /// A shipment's tracking (by shipment id or tracking number).
    Track { id: String },
    /// Follow a shipment live until it is delivered or returned.
    Watch { id: String },
}

#[derive(Subcommand, Debug)]
pub enum CasesCmd {
    /// Support cases (open ones unless --all).
    List {
        #[arg(long)]
        order: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Resolve a case: refund, reship, return or none.
    Resolve {
        id: String,
        #[arg(long, default_value = "none")]
        resolution: String,
        /// Refund amount in minor units (with --resolution refund).
        #[arg(long)]
        amount: Option<i64>,
        #[arg(long, default_value = "EUR")]
        currency: String,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long, default_value = "cli-support")]
        by: String,
    },
}

pub async fn stock(c: &Clients, out: &Out, cmd: StockCmd) -> anyhow::Result<()> {
    let mut inv = c.inventory.clone();
    match cmd {
        StockCmd::Receive {
            sku,
            warehouse,
            quantity,
            bin,
        } => {
            inv.receive_stock(ReceiveStockRequest {
                request_id: format!("cli-{}", uuid::Uuid::new_v4()),
                sku: sku.clone(),
                warehouse_id: warehouse,
                quantity,
                bin,
                reference: "cli".into(),
                note: String::new(),
            })
            .await
            .rpc("inventory ReceiveStock")?;
            show(&mut inv, out, sku).await?;
        }
        StockCmd::Show { sku } => show(&mut inv, out, sku).await?,
        StockCmd::Low { warehouse } => {
            let low = inv
                .list_low_stock(ListLowStockRequest {
                    page_size: 200,
                    page_token: String::new(),
                    warehouse_id: warehouse,
                })
                .await
                .rpc("inventory ListLowStock")?;
            out.rows(
                &[
                    "sku",
                    "name",
                    "warehouse",
                    "on hand",
                    "available",
                    "reorder point",
                ],
                low.entries
                    .iter()
                    .map(|e| {
                        vec![
                            ("sku", json!(e.sku)),
                            ("name", json!(e.name)),
                            ("warehouse_id", json!(e.warehouse_id)),
                            ("on_hand", json!(e.on_hand)),
                            ("available", json!(e.available)),
                            ("reorder_point", json!(e.reorder_point)),
                        ]
                    })
                    .collect(),
            );
        }
    }
    Ok(())
}

async fn show(
    inv: &mut contracts::inventory::inventory_service_client::InventoryServiceClient<Traced>,
    out: &Out,
    sku: String,
) -> anyhow::Result<()> {
    let a = inv
        .get_availability(GetAvailabilityRequest {
            sku,
            ..Default::default()
        })
        .await
        .rpc("inventory GetAvailability")?;
    out.rows(
        &["sku", "warehouse", "on hand", "reserved", "available"],
        a.levels
            .iter()
            .map(|l| {
                vec![
                    ("sku", json!(l.sku)),
                    ("warehouse_id", json!(l.warehouse_id)),
                    ("on_hand", json!(l.on_hand)),
                    ("reserved", json!(l.reserved)),
                    ("available", json!(l.available)),
                ]
            })
            .collect(),
    );
    out.note(&format!("total available: {}", a.total_available));
    Ok(())
}

fn fulfillment_row(f: &Fulfillment) -> Vec<(&'static str, Value)> {
    vec![
        ("id", json!(f.id)),
        ("order_number", json!(f.order_number)),
        ("warehouse_id", json!(f.warehouse_id)),
        (
            "status",
            json!(short(f.status().as_str_name(), "FULFILLMENT_STATUS_")),
        ),
        ("parcels", json!(f.parcels.len())),
        (
            "tracking",
            json!(
                f.parcels
                    .iter()
                    .map(|p| p.tracking_number.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
    ]
}

const FULFILLMENT_HEADERS: [&str; 6] = [
    "fulfillment",
    "order",
    "warehouse",
    "status",
    "parcels",
    "tracking",
];

async fn fulfillment(c: &Clients, id: &str) -> anyhow::Result<Fulfillment> {
    c.fulfillment
        .clone()
        .get_fulfillment(GetFulfillmentRequest { id: id.to_owned() })
        .await
        .rpc("fulfillment GetFulfillment")?
        .fulfillment
        .context("no fulfillment returned")
}

pub async fn fulfil(c: &Clients, out: &Out, cmd: FulfilCmd) -> anyhow::Result<()> {
    let mut fc = c.fulfillment.clone();
    match cmd {
        FulfilCmd::Wave {
            warehouse,
            fulfillments,
            max,
        } => {
            let wave = fc
                .create_pick_wave(CreatePickWaveRequest {
                    request_id: format!("cli-{}", uuid::Uuid::new_v4()),
                    warehouse_id: warehouse,
                    fulfillment_ids: fulfillments,
                    max_fulfillments: max,
                })
                .await
                .rpc("fulfillment CreatePickWave")?
                .wave
                .context("no wave returned")?;
            out.note(&format!(
                "wave {} in {}: {} fulfillment(s)",
                wave.id,
                wave.warehouse_id,
                wave.fulfillment_ids.len()
            ));
            let mut rows = Vec::new();
            for id in &wave.fulfillment_ids {
                rows.push(fulfillment_row(&fulfillment(c, id).await?));
            }
            out.rows(&FULFILLMENT_HEADERS, rows);
        }
        FulfilCmd::Pick {
            fulfillment: id,
            by,
        } => {
            let f = fulfillment(c, &id).await?;
            let lines = f.picked_as_allocated();
            let f = fc
                .confirm_pick(ConfirmPickRequest {
                    fulfillment_id: id,
                    lines,
                    picker_id: by,
                })
                .await
                .rpc("fulfillment ConfirmPick")?
                .fulfillment
                .context("no fulfillment returned")?;
            out.rows(&FULFILLMENT_HEADERS, vec![fulfillment_row(&f)]);
        }
        FulfilCmd::Pack {
            fulfillment: id,
            weight,
            carrier,
            by,
        } => {
            let f = fulfillment(c, &id).await?;
            let weight = match weight {
                Some(w) => w,
                None => {
                    let mut total = 0;
                    for l in &f.lines {
                        let item = c
                            .inventory
                            .clone()
                            .get_item(GetItemRequest { sku: l.sku.clone() })
                            .await
                            .rpc("inventory GetItem")?
                            .item
                            .unwrap_or_default();
                        total += item.weight_grams * l.quantity;
                    }
                    total
                }
            };
            let packed = fc
                .pack_parcel(PackParcelRequest {
                    request_id: format!("cli-{}", uuid::Uuid::new_v4()),
                    fulfillment_id: id,
                    lines: f
                        .lines
                        .iter()
                        .map(|l| ParcelLine {
                            line_id: l.line_id.clone(),
                            sku: l.sku.clone(),
                            quantity: l.picked_quantity.unwrap_or(l.quantity) - l.packed_quantity,
                        })
                        .filter(|l| l.quantity > 0)
                        .collect(),
                    weight_grams: weight,
                    dimensions: Some(Dimensions {
                        length_mm: 300,
                        width_mm: 200,
                        height_mm: 150,
                    }),
                    packed_by: by,
                    preferred_carrier: carrier,
                })
                .await
                .rpc("fulfillment PackParcel")?;
            let p = packed.parcel.context("no parcel returned")?;
            out.rows(
                &[
                    "parcel",
                    "status",
                    "weight g",
                    "carrier",
                    "tracking",
                    "shipment",
                    "weight flagged",
                ],
                vec![vec![
                    ("parcel_id", json!(p.id)),
                    (
                        "status",
                        json!(short(p.status().as_str_name(), "PARCEL_STATUS_")),
                    ),
                    ("weight_grams", json!(p.weight_grams)),
                    ("carrier", json!(p.carrier)),
                    ("tracking_number", json!(p.tracking_number)),
                    ("shipment_id", json!(p.shipment_id)),
                    ("weight_flagged", json!(p.weight_flagged)),
                ]],
            );
        }
        FulfilCmd::Label {
            parcel,
            format,
            out: path,
        } => {
            let format = LabelFormat::from_str_name(&format!(
                "LABEL_FORMAT_{}",
                format.to_ascii_uppercase()
            ))
            .with_context(|| format!("unknown label format `{format}`: pdf, zpl, png"))?;
            let label = fc
                .print_label(PrintLabelRequest {
                    parcel_id: parcel,
                    format: format.into(),
                })
                .await
                .rpc("fulfillment PrintLabel")?
                .label
                .context("no label returned")?;
            if let Some(path) = &path {
                std::fs::write(path, &label.content)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            out.rows(
                &["carrier", "tracking", "format", "bytes", "written to"],
                vec![vec![
                    ("carrier", json!(label.carrier)),
                    ("tracking_number", json!(label.tracking_number)),
                    (
                        "format",
                        json!(short(label.format().as_str_name(), "LABEL_FORMAT_")),
                    ),
                    ("bytes", json!(label.content.len())),
                    (
                        "path",
                        json!(path.map(|p| p.display().to_string()).unwrap_or_default()),
                    ),
                ]],
            );
        }
        FulfilCmd::Handover {
            fulfillment: id,
            by,
        } => {
            let f = fulfillment(c, &id).await?;
            let parcels: Vec<String> = f
                .parcels
                .iter()
                .filter(|p| p.status() == ParcelStatus::Packed)
                .map(|p| p.id.clone())
                .collect();
            anyhow::ensure!(
                !parcels.is_empty(),
                "fulfillment {id} has no packed parcel to hand over"
            );
            let f = fc
                .hand_over(HandOverRequest {
                    request_id: format!("cli-{}", uuid::Uuid::new_v4()),
                    fulfillment_id: id,
                    parcel_ids: parcels,
                    handed_over_by: by,
                })
                .await
                .rpc("fulfillment HandOver")?
                .fulfillment
                .context("no fulfillment returned")?;
            out.rows(&FULFILLMENT_HEADERS, vec![fulfillment_row(&f)]);
        }
    }
    Ok(())
}

fn tracking_rows(out: &Out, t: &TrackingInfo) {
    out.note(&format!(
        "{} {} — {} (eta {}, last seen {})",
        t.carrier,
        t.tracking_number,
        short(t.status().as_str_name(), "TRACKING_STATUS_"),
        when(t.eta.as_ref()),
        if t.last_location.is_empty() {
            "-"
        } else {
            &t.last_location
        }
    ));
    out.rows(
        &["when", "status", "description", "location"],
        t.events
            .iter()
            .map(|e| {
                vec![
                    ("occurred_at", json!(when(e.occurred_at.as_ref()))),
                    (
                        "status",
                        json!(short(e.status().as_str_name(), "TRACKING_STATUS_")),
                    ),
                    ("description", json!(e.description)),
                    ("location", json!(e.location)),
                ]
            })
            .collect(),
    );
}

pub async fn ship(c: &Clients, out: &Out, cmd: ShipCmd) -> anyhow::Result<()> {
    let mut sc = c.shipping.clone();
    match cmd {
        ShipCmd::Track { id } => {
            let t = sc
                .track_shipment(TrackShipmentRequest { id })
                .await
                .rpc("shipping TrackShipment")?
                .tracking
                .context("no tracking returned")?;
            tracking_rows(out, &t);
        }
        ShipCmd::Watch { id } => {
            let mut stream = sc
                .watch_shipment(WatchShipmentRequest { id })
                .await
                .rpc("shipping WatchShipment")?;
            loop {
                let next = stream.message().await.map_err(|status| {
                    anyhow::Error::from(crate::clients::RpcError {
                        call: "shipping WatchShipment",
                        status,
                    })
                })?;
                let Some(update) = next else { break };
                let status = update.tracking.as_ref().map(TrackingInfo::status);
                if let Some(e) = &update.event {
                    let row = vec![
                        ("occurred_at", json!(when(e.occurred_at.as_ref()))),
                        (
                            "status",
                            json!(short(e.status().as_str_name(), "TRACKING_STATUS_")),
                        ),
                        ("description", json!(e.description)),
                        ("location", json!(e.location)),
                    ];
                    if out.json {
                        out.rows(&[], vec![row]);
                    } else {
                        let cells: Vec<String> = row.iter().map(|(_, v)| super::cell(v)).collect();
                        out.note(&cells.join("  "));
                    }
                } else if let Some(t) = &update.tracking {
                    tracking_rows(out, t);
                }
                if matches!(
                    status,
                    Some(TrackingStatus::Delivered | TrackingStatus::ReturnedToSender)
                ) {
                    break;
                }
            }
        }
    }
    Ok(())
}

fn case_row(k: &SupportCase) -> Vec<(&'static str, Value)> {
    vec![
        ("case_number", json!(k.case_number)),
        (
            "status",
            json!(short(k.status().as_str_name(), "CASE_STATUS_")),
        ),
        (
            "priority",
            json!(short(k.priority().as_str_name(), "CASE_PRIORITY_")),
        ),
        ("subject", json!(k.subject)),
        ("resolve_due_at", json!(when(k.resolve_due_at.as_ref()))),
        ("sla_breached", json!(k.sla_breached)),
        ("refund", json!(money(k.refund_amount.as_ref()))),
        ("id", json!(k.id)),
    ]
}

const CASE_HEADERS: [&str; 8] = [
    "case",
    "status",
    "priority",
    "subject",
    "resolve by",
    "SLA breached",
    "refund",
    "id",
];

pub async fn cases(c: &Clients, out: &Out, cmd: CasesCmd) -> anyhow::Result<()> {
    let mut fb = c.feedback.clone();
    match cmd {
        CasesCmd::List { order, all } => {
            let order_id = match order {
                Some(o) => super::orders::order_id_of(c, o).await?,
                None => String::new(),
            };
            let statuses = if all {
                Vec::new()
            } else {
                vec![
                    CaseStatus::Open.into(),
                    CaseStatus::InProgress.into(),
                    CaseStatus::WaitingOnCustomer.into(),
                ]
            };
            let list = fb
                .list_cases(ListCasesRequest {
                    page_size: 100,
                    order_id,
                    statuses,
                    ..Default::default()
                })
                .await
                .rpc("feedback ListCases")?;
            out.rows(&CASE_HEADERS, list.cases.iter().map(case_row).collect());
        }
        CasesCmd::Resolve {
            id,
            resolution,
            amount,
            currency,
            note,
            by,
        } => {
            let resolution = CaseResolution::from_str_name(&format!(
                "CASE_RESOLUTION_{}",
                resolution.to_ascii_uppercase()
            ))
            .with_context(|| {
                format!("unknown resolution `{resolution}`: refund, reship, return, none")
            })?;
            let k = fb
                .resolve_case(ResolveCaseRequest {
                    case_id: id,
                    resolution: resolution.into(),
                    refund_amount: amount.map(|amount_minor| Money {
                        currency_code: currency,
                        amount_minor,
                    }),
                    lines: Vec::new(),
                    note,
                    resolved_by: by,
                })
                .await
                .rpc("feedback ResolveCase")?
                .support_case
                .context("no case returned")?;
            out.rows(&CASE_HEADERS, vec![case_row(&k)]);
        }
    }
    Ok(())
}
