//! One order's walk through the platform: the people the demo plays (customer, warehouse,
//! reviewer, support) as small steps, each a gRPC call, plus waiting for the order's status.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use contracts::common::{
    Address, Channel, Customer, Dimensions, FulfillmentMode, LabelFormat, Money, PaymentMethod,
};
use contracts::fulfillment::{
    ConfirmPickRequest, ConfirmPickupRequest, CreatePickWaveRequest, Fulfillment,
    FulfillmentStatus, GetFulfillmentRequest, HandOverRequest, ListFulfillmentsRequest,
    MarkReadyForPickupRequest, PackParcelRequest, ParcelLine, PrintLabelRequest,
};
use contracts::orders::{
    ConfirmReceiptRequest, GetOrderRequest, NewOrderLine, Order, OrderStatus, PaymentInstruction,
    PlaceOrderRequest,
};

use super::seed;
use crate::clients::{Clients, Rpc as _};
use crate::output;

/// How long any one wait may take on a clock scaled 3600×.
const WAIT: Duration = Duration::from_secs(150);
const POLL: Duration = Duration::from_millis(300);

pub struct Flow {
    pub c: Clients,
    pub run: String,
    pub scenario: &'static str,
    pub json: bool,
    pub order: Option<Order>,
    last_status: Option<OrderStatus>,
    started: Instant,
}

pub fn eur(amount_minor: i64) -> Money {
    Money {
        currency_code: "EUR".into(),
        amount_minor,
    }
}

pub fn status_name(status: OrderStatus) -> &'static str {
    status.as_str_name()
}

impl Flow {
    pub fn new(c: Clients, run: &str, scenario: &'static str, json: bool) -> Self {
        Self {
            c,
            run: run.to_owned(),
            scenario,
            json,
            order: None,
            last_status: None,
            started: Instant::now(),
        }
    }

    pub fn log(&self, message: &str) {
        let number = self
            .order
            .as_ref()
            .map_or("-", |o| o.order_number.as_str())
            .to_owned();
        output::progress(
            self.json,
            &format!(
                "{:>6.1}s  {:<31} {:<22} {message}",
                self.started.elapsed().as_secs_f64(),
                self.scenario,
                number
            ),
        );
    }

    /// A request id unique to this run, scenario and step.
    pub fn rid(&self, step: &str) -> String {
        format!("demo-{}-{}-{step}", self.run, self.scenario)
    }

    pub fn id(&self) -> anyhow::Result<String> {
        Ok(self
            .order
            .as_ref()
            .context("no order placed yet")?
            .id
            .clone())
    }

    /// A customer of this scenario (new for every run, so risk scoring sees a first order).
    pub fn request(
        &self,
        lines: &[(&str, i32)],
        method: PaymentMethod,
        token: &str,
    ) -> PlaceOrderRequest {
        let customer_id = format!("demo-{}-{}", self.run, self.scenario);
        PlaceOrderRequest {
            request_id: self.rid("place"),
            customer: Some(Customer {
                id: customer_id.clone(),
                name: "Mei Lin".into(),
                email: format!("{customer_id}@example.com"),
                phone: "+49 30 1234567".into(),
            }),
            channel: Channel::Web.into(),
            fulfillment_mode: FulfillmentMode::Ship.into(),
            lines: lines
                .iter()
                .map(|(sku, quantity)| NewOrderLine {
                    sku: (*sku).into(),
                    quantity: *quantity,
                    unit_price: Some(eur(seed::price(sku))),
                    ..Default::default()
                })
                .collect(),
            shipping_address: Some(Address {
                recipient: "Mei Lin".into(),
                line1: "Unter den Linden 1".into(),
                city: "Berlin".into(),
                region: "BE".into(),
                postal_code: "10117".into(),
                country_code: "DE".into(),
                phone: "+49 30 1234567".into(),
                ..Default::default()
            }),
            payment: Some(PaymentInstruction {
                method: method.into(),
                token: token.into(),
                installment_count: 0,
            }),
            ..Default::default()
        }
    }

    /// Places the order, retrying while orders may not have heard of the catalog yet.
    pub async fn place(&mut self, request: PlaceOrderRequest) -> anyhow::Result<Order> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let order = loop {
            match self
                .c
                .orders
                .place_order(request.clone())
                .await
                .rpc("orders PlaceOrder")
            {
                Ok(response) => break response.order.context("PlaceOrder returned no order")?,
                Err(err) if Instant::now() < deadline => {
                    tracing::debug!("retrying PlaceOrder: {err:#}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(err) => return Err(err),
            }
        };
        self.order = Some(order.clone());
        self.last_status = Some(order.status());
        runtime::telemetry::record_order_id(&order.id);
        let total = order.total.as_ref().map_or(0, |m| m.amount_minor);
        self.log(&format!(
            "placed: {} line(s), total EUR {}.{:02} → {}",
            order.lines.len(),
            total / 100,
            total % 100,
            status_name(order.status())
        ));
        Ok(order)
    }

    pub async fn get(&mut self) -> anyhow::Result<Order> {
        let id = self.id()?;
        let order = self
            .c
            .orders
            .get_order(GetOrderRequest { id })
            .await
            .rpc("orders GetOrder")?
            .order
            .context("GetOrder returned no order")?;
        if self.last_status != Some(order.status()) {
            self.last_status = Some(order.status());
            self.order = Some(order.clone());
            self.log(&format!("→ {}", status_name(order.status())));
        }
        self.order = Some(order.clone());
        Ok(order)
    }

    /// Waits for the order to reach one of `want`; fails early when it ends elsewhere. Orders
    /// being unreachable for a while (a restarted container) is waited out, up to the deadline.
    pub async fn wait(&mut self, want: &[OrderStatus]) -> anyhow::Result<Order> {
        let deadline = Instant::now() + WAIT;
        loop {
            let order = match self.get().await {
                Ok(order) => order,
                Err(err) if Instant::now() < deadline => {
                    tracing::debug!("retrying GetOrder: {err:#}");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                Err(err) => return Err(err),
            };
            let status = order.status();
            if want.contains(&status) {
                return Ok(order);
            }
            if matches!(
                status,
                OrderStatus::Completed | OrderStatus::Cancelled | OrderStatus::Rejected
            ) {
                bail!(
                    "order ended {} while waiting for {}",
                    status_name(status),
                    names(want)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out after {}s waiting for {} (still {}); is the platform running \
                     with OC_CLOCK_SCALE=3600?",
                    WAIT.as_secs(),
                    names(want),
                    status_name(status)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for at least `count` fulfillments of the order and returns them.
    pub async fn fulfillments(&mut self, count: usize) -> anyhow::Result<Vec<Fulfillment>> {
        let id = self.id()?;
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self
                .c
                .fulfillment
                .list_fulfillments(ListFulfillmentsRequest {
                    order_id: id.clone(),
                    page_size: 50,
                    ..Default::default()
                })
                .await
                .rpc("fulfillment ListFulfillments")?
                .fulfillments;
            if found.len() >= count {
                return Ok(found);
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out waiting for {count} fulfillment(s) (found {})",
                    found.len()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The warehouse works every pending fulfillment of the order: wave, pick, then pack,
    /// label and hand over (shipping) or shelve and hand to the customer (store pickup).
    pub async fn work_fulfillments(&mut self, count: usize) -> anyhow::Result<usize> {
        let mut worked = 0;
        for f in self.fulfillments(count).await? {
            if f.status() == FulfillmentStatus::Pending {
                self.work(&f).await?;
                worked += 1;
            }
        }
        Ok(worked)
    }

    async fn work(&mut self, f: &Fulfillment) -> anyhow::Result<()> {
        let mut c = self.c.fulfillment.clone();
        let tag = f.id.clone();
        let pickup = f.fulfillment_mode() == FulfillmentMode::StorePickup;
        // Waves gather shipping work; a store picks a pickup order straight off its shelves.
        if !pickup {
            c.create_pick_wave(CreatePickWaveRequest {
                request_id: self.rid(&format!("wave-{tag}")),
                warehouse_id: f.warehouse_id.clone(),
                fulfillment_ids: vec![f.id.clone()],
                max_fulfillments: 0,
            })
            .await
            .rpc("fulfillment CreatePickWave")?;
        }
        let picked = f.picked_as_allocated();
        c.confirm_pick(ConfirmPickRequest {
            fulfillment_id: f.id.clone(),
            lines: picked,
            picker_id: "demo-picker".into(),
        })
        .await
        .rpc("fulfillment ConfirmPick")?;
        self.log(&format!(
            "warehouse {}: {}picked",
            f.warehouse_id,
            if pickup { "" } else { "wave created, " }
        ));

        if pickup {
            c.mark_ready_for_pickup(MarkReadyForPickupRequest {
                fulfillment_id: f.id.clone(),
                shelf_location: "PICKUP-A3".into(),
                staff_id: "demo-store-staff".into(),
            })
            .await
            .rpc("fulfillment MarkReadyForPickup")?;
            self.log(&format!("store {}: on the pickup shelf", f.warehouse_id));
            self.wait(&[OrderStatus::ReadyForPickup]).await?;
            let shelved = c
                .get_fulfillment(GetFulfillmentRequest { id: f.id.clone() })
                .await
                .rpc("fulfillment GetFulfillment")?
                .fulfillment
                .context("GetFulfillment returned nothing")?;
            c.confirm_pickup(ConfirmPickupRequest {
                request_id: self.rid(&format!("pickup-{tag}")),
                fulfillment_id: f.id.clone(),
                pickup_code: shelved.pickup_code.clone(),
                collected_by: "Mei Lin".into(),
                cash_collected: None,
                staff_id: "demo-store-staff".into(),
            })
            .await
            .rpc("fulfillment ConfirmPickup")?;
            self.log(&format!(
                "customer collected with code {}",
                shelved.pickup_code
            ));
            return Ok(());
        }

        let lines: Vec<ParcelLine> = f
            .lines
            .iter()
            .map(|l| ParcelLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect();
        let weight: i32 = f
            .lines
            .iter()
            .map(|l| seed::weight(&l.sku) * l.quantity)
            .sum();
        let pack = PackParcelRequest {
            request_id: self.rid(&format!("pack-{tag}")),
            fulfillment_id: f.id.clone(),
            lines,
            weight_grams: weight,
            dimensions: Some(Dimensions {
                length_mm: 300,
                width_mm: 200,
                height_mm: 150,
            }),
            packed_by: "demo-packer".into(),
            preferred_carrier: String::new(),
        };
        // Packing calls shipping; while shipping restarts the answer is UNAVAILABLE, and the
        // packer tries again with the same request id, as the answer says.
        let parcel = until_available(|| {
            let mut c = c.clone();
            let pack = pack.clone();
            async move { c.pack_parcel(pack).await }
        })
        .await
        .rpc("fulfillment PackParcel")?
        .parcel
        .context("PackParcel returned no parcel")?;
        if let Err(err) = c
            .print_label(PrintLabelRequest {
                parcel_id: parcel.id.clone(),
                format: LabelFormat::Pdf.into(),
            })
            .await
            .rpc("fulfillment PrintLabel")
        {
            self.log(&format!("label not printed ({err:#}); handing over anyway"));
        }
        c.hand_over(HandOverRequest {
            request_id: self.rid(&format!("handover-{tag}")),
            fulfillment_id: f.id.clone(),
            parcel_ids: vec![parcel.id.clone()],
            handed_over_by: "demo-dock".into(),
        })
        .await
        .rpc("fulfillment HandOver")?;
        self.log(&format!(
            "packed {} g, handed to {} ({})",
            weight, parcel.carrier, parcel.tracking_number
        ));
        Ok(())
    }

    /// Confirmation, the warehouse's work and the carrier's delivery (or the pickup).
    pub async fn fulfil_and_deliver(&mut self, fulfillments: usize) -> anyhow::Result<Order> {
        self.wait(&[OrderStatus::InFulfillment, OrderStatus::Confirmed])
            .await?;
        self.work_fulfillments(fulfillments).await?;
        self.wait(&[OrderStatus::Delivered]).await
    }

    /// The customer confirms receipt; the order completes once payments has settled it.
    pub async fn accept(&mut self) -> anyhow::Result<Order> {
        let id = self.id()?;
        self.c
            .orders
            .confirm_receipt(ConfirmReceiptRequest { order_id: id })
            .await
            .rpc("orders ConfirmReceipt")?;
        self.log("customer confirmed receipt");
        self.wait(&[OrderStatus::Completed]).await
    }
}

fn names(statuses: &[OrderStatus]) -> String {
    statuses
        .iter()
        .map(|s| status_name(*s))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Calls `call` again while it answers UNAVAILABLE (a service restarting), for a while; the
/// call must be safe to repeat (a request id, or idempotent by state).
async fn until_available<T, F, Fut>(mut call: F) -> Result<tonic::Response<T>, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match call().await {
            Err(status)
                if status.code() == tonic::Code::Unavailable
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            answer => return answer,
        }
    }
}
