//! `PricingService`: the tables orders prices with (operators), and quotes (anyone who may
//! place an order).

use chrono::{DateTime, Utc};
use runtime::Role;
use runtime::grpc::FieldViolations;
use tonic::{Request, Response, Status};

use contracts::common;
use contracts::orders::pricing_service_server::PricingService;
use contracts::orders::{self as pb};
use contracts::time::{from_timestamp, to_timestamp};

use super::orders::OrdersApi;
use super::page_size;
use crate::convert::{self, channel_pb, money_pb, totals_pb};
use crate::domain::pricing::TaxMode;
use crate::domain::{Channel, Currency, Money, Sku};
use crate::error::Error;
use crate::store::pricing::{self as tables, DiscountCodeRow, ShippingRateRow, TaxRateRow};

#[derive(Clone)]
pub struct PricingApi {
    orders: OrdersApi,
    pool: sqlx::PgPool,
}

const OPERATOR: [Role; 1] = [Role::Operator];
const ANY_CALLER: [Role; 3] = [Role::Customer, Role::Operator, Role::Service];

impl PricingApi {
    pub fn new(orders: OrdersApi, pool: sqlx::PgPool) -> Self {
        Self { orders, pool }
    }

    fn now(&self) -> DateTime<Utc> {
        self.orders.wf().clock.now()
    }
}

/// `*` (anywhere) or an ISO 3166-1 alpha-2 code.
fn country(v: &mut FieldViolations, field: &str, raw: &str) -> String {
    let raw = raw.trim();
    let ok = raw == "*" || (raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_uppercase()));
    v.check(
        ok,
        field,
        "must be \"*\" or an ISO 3166-1 alpha-2 code (two upper-case letters)",
    );
    raw.to_owned()
}

/// A region or category: empty means `*`.
fn wildcard(v: &mut FieldViolations, field: &str, raw: &str, max: usize) -> String {
    let raw = raw.trim();
    v.check(
        raw.chars().count() <= max,
        field,
        format!("must be at most {max} characters"),
    );
    if raw.is_empty() {
        "*".to_owned()
    } else {
        raw.to_owned()
    }
}

fn time(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.and_then(from_timestamp)
}

fn code_pb(c: &DiscountCodeRow) -> pb::DiscountCode {
    let money = |minor: Option<i64>| {
        let currency = c.currency.as_deref().and_then(Currency::parse)?;
        Some(money_pb(Money::new(currency, minor?)))
    };
    pb::DiscountCode {
        code: c.code.clone(),
        kind: match c.kind.as_str() {
            "PERCENTAGE" => pb::DiscountKind::Percentage,
            "FIXED" => pb::DiscountKind::Fixed,
            _ => pb::DiscountKind::Unspecified,
        }
        .into(),
        percent_bps: c.percent_bps.unwrap_or(0),
        amount: money(c.amount_minor),
        scope: if c.scope == "LINE" {
            pb::DiscountScope::Line
        } else {
            pb::DiscountScope::Order
        }
        .into(),
        sku: c.sku.clone().unwrap_or_default(),
        min_spend: money(Some(c.min_spend_minor).filter(|m| *m > 0)),
        valid_from: c.valid_from.map(to_timestamp),
        valid_until: c.valid_until.map(to_timestamp),
        max_uses: c.max_uses.unwrap_or(0),
        max_uses_per_customer: c.max_uses_per_customer.unwrap_or(0),
        disabled: c.disabled,
        description: c.description.clone(),
        times_used: c.times_used,
        updated_at: Some(to_timestamp(c.updated_at)),
    }
}

/// A discount code as given, checked field by field (`discount_code.…`).
fn code_row(
    c: Option<&pb::DiscountCode>,
    now: DateTime<Utc>,
) -> Result<DiscountCodeRow, FieldViolations> {
    let mut v = FieldViolations::new();
    let Some(c) = c else {
        v.add("discount_code", "is required");
        return Err(v);
    };
    let f = |name: &str| format!("discount_code.{name}");
    let code = convert::discount_code(&c.code)
        .map_err(|e| v.add(f("code"), e))
        .unwrap_or_default();
    let kind = pb::DiscountKind::try_from(c.kind).unwrap_or(pb::DiscountKind::Unspecified);
    let mut currency: Option<Currency> = None;
    let (kind, percent_bps, amount_minor) = match kind {
        pb::DiscountKind::Percentage => {
            v.check(
                (1..=10_000).contains(&c.percent_bps),
                f("percent_bps"),
                "must be between 1 and 10000 basis points for a percentage",
            );
            v.check(
                c.amount.is_none(),
                f("amount"),
                "must be unset for a percentage",
            );
            ("PERCENTAGE", Some(c.percent_bps), None)
        }
        pb::DiscountKind::Fixed => {
            v.check(
                c.percent_bps == 0,
                f("percent_bps"),
                "must be 0 for a fixed amount",
            );
            let amount = convert::money(&mut v, &f("amount"), c.amount.as_ref());
            if let Some(a) = amount {
                v.check(a.minor > 0, f("amount.amount_minor"), "must be positive");
                currency = Some(a.currency);
            }
            ("FIXED", None, amount.map(|a| a.minor))
        }
        pb::DiscountKind::Unspecified => {
            v.add(
                f("kind"),
                "must be DISCOUNT_KIND_PERCENTAGE or DISCOUNT_KIND_FIXED",
            );
            ("", None, None)
        }
    };
    let scope = pb::DiscountScope::try_from(c.scope).unwrap_or(pb::DiscountScope::Unspecified);
    let (scope, sku) = match scope {
        pb::DiscountScope::Order => {
            v.check(
                c.sku.trim().is_empty(),
                f("sku"),
                "must be empty for an order-level code",
            );
            ("ORDER", None)
        }
        pb::DiscountScope::Line => {
            let sku = Sku::parse(c.sku.trim())
                .map_err(|e| v.add(f("sku"), e))
                .ok();
            ("LINE", sku.map(|s| s.as_str().to_owned()))
        }
        pb::DiscountScope::Unspecified => {
            v.add(
                f("scope"),
                "must be DISCOUNT_SCOPE_ORDER or DISCOUNT_SCOPE_LINE",
            );
            ("", None)
        }
    };
    let mut min_spend_minor = 0;
    if let Some(min) = c.min_spend.as_ref()
        && let Some(min) = convert::money(&mut v, &f("min_spend"), Some(min))
    {
        match currency {
            Some(cur) if cur != min.currency => v.add(
                f("min_spend.currency_code"),
                format!("must be {cur}, the currency of the amount"),
            ),
            _ => currency = Some(min.currency),
        }
        min_spend_minor = min.minor;
    }
    let valid_from = time(c.valid_from.as_ref());
    let valid_until = time(c.valid_until.as_ref());
    v.check(
        c.valid_from.is_none() || valid_from.is_some(),
        f("valid_from"),
        "is not a valid time",
    );
    v.check(
        c.valid_until.is_none() || valid_until.is_some(),
        f("valid_until"),
        "is not a valid time",
    );
    if let (Some(from), Some(until)) = (valid_from, valid_until) {
        v.check(from < until, f("valid_until"), "must be after valid_from");
    }
    v.check(c.max_uses >= 0, f("max_uses"), "must not be negative");
    v.check(
        c.max_uses_per_customer >= 0,
        f("max_uses_per_customer"),
        "must not be negative",
    );
    v.check(
        c.description.chars().count() <= 500,
        f("description"),
        "must be at most 500 characters",
    );
    if !v.is_empty() {
        return Err(v);
    }
    Ok(DiscountCodeRow {
        code,
        kind: kind.to_owned(),
        percent_bps,
        amount_minor,
        currency: currency.map(|c| c.as_str().to_owned()),
        scope: scope.to_owned(),
        sku,
        min_spend_minor,
        valid_from,
        valid_until,
        max_uses: Some(c.max_uses).filter(|m| *m > 0),
        max_uses_per_customer: Some(c.max_uses_per_customer).filter(|m| *m > 0),
        times_used: 0,
        disabled: c.disabled,
        description: c.description.trim().to_owned(),
        updated_at: now,
    })
}

fn rate_pb(r: &ShippingRateRow) -> pb::ShippingRate {
    pb::ShippingRate {
        country_code: r.country_code.clone(),
        region: r.region.clone(),
        service_level: r.service_level.clone(),
        min_weight_grams: r.min_weight_grams,
        fee: Some(common::Money {
            currency_code: r.currency.clone(),
            amount_minor: r.fee_minor,
        }),
        updated_at: Some(to_timestamp(r.updated_at)),
    }
}

fn tax_pb(r: &TaxRateRow) -> pb::TaxRate {
    pb::TaxRate {
        country_code: r.country_code.clone(),
        region: r.region.clone(),
        category: r.category.clone(),
        rate_bps: r.rate_bps,
        updated_at: Some(to_timestamp(r.updated_at)),
    }
}

fn channel(raw: i32) -> Option<Channel> {
    let name = common::Channel::try_from(raw).ok()?.as_str_name();
    Channel::parse(name.strip_prefix("CHANNEL_")?)
}

#[tonic::async_trait]
impl PricingService for PricingApi {
    async fn upsert_discount_code(
        &self,
        request: Request<pb::UpsertDiscountCodeRequest>,
    ) -> Result<Response<pb::UpsertDiscountCodeResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&OPERATOR)?;
        let row = code_row(request.get_ref().discount_code.as_ref(), self.now())
            .map_err(FieldViolations::into_status)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let saved = tables::upsert_code(&mut conn, &row)
            .await
            .map_err(Error::from)?;
        tracing::info!(code = %saved.code, "discount code upserted");
        Ok(Response::new(pb::UpsertDiscountCodeResponse {
            discount_code: Some(code_pb(&saved)),
        }))
    }

    async fn list_discount_codes(
        &self,
        request: Request<pb::ListDiscountCodesRequest>,
    ) -> Result<Response<pb::ListDiscountCodesResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&OPERATOR)?;
        let r = request.into_inner();
        let limit = page_size(r.page_size, 100)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let mut rows = tables::list_codes(&mut conn, &r.page_token, limit + 1)
            .await
            .map_err(Error::from)?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|c| c.code.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListDiscountCodesResponse {
            discount_codes: rows.iter().map(code_pb).collect(),
            next_page_token,
        }))
    }

    async fn upsert_shipping_rate(
        &self,
        request: Request<pb::UpsertShippingRateRequest>,
    ) -> Result<Response<pb::UpsertShippingRateResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&OPERATOR)?;
        let mut v = FieldViolations::new();
        let Some(r) = request.get_ref().shipping_rate.as_ref() else {
            v.add("shipping_rate", "is required");
            return Err(v.into_status());
        };
        let country_code = country(&mut v, "shipping_rate.country_code", &r.country_code);
        let region = wildcard(&mut v, "shipping_rate.region", &r.region, 100);
        v.check(
            country_code != "*" || region == "*",
            "shipping_rate.region",
            "must be \"*\" when country_code is \"*\"",
        );
        let service_level = convert::service_level(&r.service_level)
            .map_err(|e| v.add("shipping_rate.service_level", e))
            .unwrap_or_default();
        v.check(
            r.min_weight_grams >= 0,
            "shipping_rate.min_weight_grams",
            "must not be negative",
        );
        let fee = convert::money(&mut v, "shipping_rate.fee", r.fee.as_ref());
        v.into_result()?;
        let Some(fee) = fee else {
            return Err(Status::invalid_argument("shipping_rate.fee is required"));
        };
        let row = ShippingRateRow {
            country_code,
            region,
            service_level,
            currency: fee.currency.as_str().to_owned(),
            min_weight_grams: r.min_weight_grams,
            fee_minor: fee.minor,
            updated_at: self.now(),
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let saved = tables::upsert_shipping_rate(&mut conn, &row)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::UpsertShippingRateResponse {
            shipping_rate: Some(rate_pb(&saved)),
        }))
    }

    async fn list_shipping_rates(
        &self,
        request: Request<pb::ListShippingRatesRequest>,
    ) -> Result<Response<pb::ListShippingRatesResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&OPERATOR)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let rows = tables::shipping_rates(&mut conn, None)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListShippingRatesResponse {
            shipping_rates: rows.iter().map(rate_pb).collect(),
        }))
    }

    async fn upsert_tax_rate(
        &self,
        request: Request<pb::UpsertTaxRateRequest>,
    ) -> Result<Response<pb::UpsertTaxRateResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&OPERATOR)?;
        let mut v = FieldViolations::new();
        let Some(r) = request.get_ref().tax_rate.as_ref() else {
            v.add("tax_rate", "is required");
            return Err(v.into_status());
        };
        let country_code = country(&mut v, "tax_rate.country_code", &r.country_code);
        let region = wildcard(&mut v, "tax_rate.region", &r.region, 100);
        v.check(
            country_code != "*" || region == "*",
            "tax_rate.region",
            "must be \"*\" when country_code is \"*\"",
        );
        let category = wildcard(&mut v, "tax_rate.category", &r.category, 64);
        v.check(
            (0..=10_000).contains(&r.rate_bps),
            "tax_rate.rate_bps",
            "must be between 0 and 10000 basis points",
        );
        v.into_result()?;
        let row = TaxRateRow {
            country_code,
            region,
            category,
            rate_bps: r.rate_bps,
            updated_at: self.now(),
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let saved = tables::upsert_tax_rate(&mut conn, &row)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::UpsertTaxRateResponse {
            tax_rate: Some(tax_pb(&saved)),
        }))
    }

    async fn list_tax_rates(
        &self,
        request: Request<pb::ListTaxRatesRequest>,
    ) -> Result<Response<pb::ListTaxRatesResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&OPERATOR)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let rows = tables::tax_rates(&mut conn, None)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListTaxRatesResponse {
            tax_rates: rows.iter().map(tax_pb).collect(),
        }))
    }

    async fn set_channel_tax_mode(
        &self,
        request: Request<pb::SetChannelTaxModeRequest>,
    ) -> Result<Response<pb::SetChannelTaxModeResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&OPERATOR)?;
        let mut v = FieldViolations::new();
        let Some(m) = request.get_ref().channel_tax_mode.as_ref() else {
            v.add("channel_tax_mode", "is required");
            return Err(v.into_status());
        };
        let Some(ch) = channel(m.channel) else {
            v.add(
                "channel_tax_mode.channel",
                "must be one of CHANNEL_WEB … CHANNEL_API",
            );
            return Err(v.into_status());
        };
        let mode = if m.tax_inclusive {
            TaxMode::Inclusive
        } else {
            TaxMode::Exclusive
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let saved = tables::set_channel_mode(&mut conn, ch.as_str(), mode.as_str(), self.now())
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::SetChannelTaxModeResponse {
            channel_tax_mode: Some(pb::ChannelTaxMode {
                channel: channel_pb(ch).into(),
                tax_inclusive: saved.mode == TaxMode::Inclusive.as_str(),
                updated_at: Some(to_timestamp(saved.updated_at)),
            }),
        }))
    }

    async fn list_channel_tax_modes(
        &self,
        request: Request<pb::ListChannelTaxModesRequest>,
    ) -> Result<Response<pb::ListChannelTaxModesResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&ANY_CALLER)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let rows = tables::channel_modes(&mut conn)
            .await
            .map_err(Error::from)?;
        let channel_tax_modes = Channel::ALL
            .iter()
            .map(|ch| {
                let row = rows.iter().find(|r| r.channel == ch.as_str());
                pb::ChannelTaxMode {
                    channel: channel_pb(*ch).into(),
                    tax_inclusive: row.is_some_and(|r| r.mode == TaxMode::Inclusive.as_str()),
                    updated_at: row.map(|r| to_timestamp(r.updated_at)),
                }
            })
            .collect();
        Ok(Response::new(pb::ListChannelTaxModesResponse {
            channel_tax_modes,
        }))
    }

    async fn quote_order(
        &self,
        request: Request<pb::QuoteOrderRequest>,
    ) -> Result<Response<pb::QuoteOrderResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let Some(order) = request.into_inner().order else {
            let mut v = FieldViolations::new();
            v.add("order", "is required");
            return Err(v.into_status());
        };
        let mut v = FieldViolations::new();
        let quoted = match self.orders.quote(&actor, order).await {
            Ok(quoted) => quoted,
            // Name the fields as the request nests them.
            Err(Error::InvalidArgument(inner)) => {
                v.extend_prefixed("order", inner);
                return Err(v.into_status());
            }
            Err(other) => return Err(other.into()),
        };
        let currency = quoted.total.currency;
        let m = |minor| Some(money_pb(Money::new(currency, minor)));
        let lines = quoted
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| pb::OrderLine {
                line_id: format!("L{}", i + 1),
                sku: l.sku.as_str().to_owned(),
                name: l.name.clone(),
                quantity: l.quantity.get() as i32,
                unit_price: m(l.unit_price.minor),
                line_total: m(l
                    .unit_price
                    .minor
                    .saturating_mul(i64::from(l.quantity.get()))),
                discount: m(l.priced.discount),
                tax: m(l.priced.tax),
                charged: m(l.priced.charged),
                category: l.category.clone(),
                weight_grams: i32::try_from(l.weight_grams).unwrap_or(i32::MAX),
                ..Default::default()
            })
            .collect();
        Ok(Response::new(pb::QuoteOrderResponse {
            totals: Some(totals_pb(&quoted.breakdown, currency)),
            lines,
        }))
    }
}
