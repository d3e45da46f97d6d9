//! `AnalyticsService` over gRPC: each handler checks the caller (operators and services),
//! converts the request in [`convert`], asks [`crate::store::kpis`] and shapes the answer.
//! [`export`] writes the orders as CSV, JSON Lines or Parquet. Questions with
//! `include_archive` add the archived orders through [`crate::archive::figures`].

pub mod convert;
pub mod export;

use std::sync::Arc;

use contracts::analytics::analytics_service_server::AnalyticsService;
use contracts::analytics::*;
use contracts::common::Channel;
use runtime::Clock;
use runtime::auth::Role;
use runtime::grpc::FieldViolations;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::archive::{self, figures};
use crate::config::Config;
use crate::domain::{self, MAX_BUCKETS_ERROR, Nps, Range, Stage};
use crate::error::Error;
use crate::store;
use crate::store::archive::ArchivedOrder;
use crate::store::kpis::{self, CycleFilter, SalesFilter};

/// The generated server's boxed response stream.
type ExportStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<ExportOrdersResponse, Status>> + Send>,
>;

#[derive(Clone)]
pub struct AnalyticsApi {
    pub pool: PgPool,
    pub clock: Clock,
    pub config: Arc<Config>,
}

fn authorize<T>(request: &Request<T>) -> Result<(), Status> {
    runtime::auth::actor(request)?.require_any(&[Role::Operator, Role::Service])
}

impl AnalyticsApi {
    /// The archived orders placed in `range`.
    async fn archived(&self, range: &Range) -> Result<Vec<ArchivedOrder>, Error> {
        Ok(archive::load(&self.pool, &self.config.archive_dir, range).await?)
    }

    async fn check_time_zone(&self, tz: &str, v: &mut FieldViolations) -> Result<String, Error> {
        if tz.is_empty() {
            return Ok("UTC".to_owned());
        }
        if !kpis::time_zone_exists(&self.pool, tz).await? {
            v.add("time_zone", format!("unknown IANA time zone {tz:?}"));
        }
        Ok(tz.to_owned())
    }

    pub async fn sales_trends(
        &self,
        req: &GetSalesTrendsRequest,
    ) -> Result<GetSalesTrendsResponse, Error> {
        let mut v = FieldViolations::new();
        let asked = convert::range("range", req.range.as_ref(), self.clock.now(), &mut v);
        let granularity = convert::granularity("granularity", req.granularity, &mut v);
        let currency = convert::currency(
            "currency_code",
            &req.currency_code,
            &self.config.reporting_currency,
            &mut v,
        );
        let channel = convert::channel("channel", req.channel, &mut v);
        let tz = self.check_time_zone(&req.time_zone, &mut v).await?;
        if let Some(range) = asked.or_epoch()
            && asked.start.is_some()
            && granularity.bucket_bound(&range) > domain::MAX_BUCKETS
        {
            v.add("granularity", MAX_BUCKETS_ERROR);
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        let start = match asked.start {
            Some(start) => Some(start),
            None => {
                let hot = kpis::earliest_order(&self.pool).await?;
                let archived = if req.include_archive {
                    store::archive::earliest(&self.pool).await?
                } else {
                    None
                };
                hot.into_iter().chain(archived).min()
            }
        };
        let empty = GetSalesTrendsResponse {
            currency_code: currency.clone(),
            buckets: Vec::new(),
            totals: None,
        };
        let Some(range) = start.and_then(|start| Range::new(start, asked.end).ok()) else {
            return Ok(empty);
        };
        if granularity.bucket_bound(&range) > domain::MAX_BUCKETS {
            let mut v = FieldViolations::new();
            v.add("granularity", MAX_BUCKETS_ERROR);
            return Err(v.into());
        }
        let filter = SalesFilter {
            currency: &currency,
            channel,
            sku: &req.sku,
        };
        let mut rows = kpis::sales_trend(&self.pool, &range, granularity, &tz, &filter).await?;
        if req.include_archive {
            let parts: Vec<kpis::SalesRow> = self
                .archived(&range)
                .await?
                .iter()
                .filter_map(|o| figures::sales_part(o, &filter))
                .collect();
            let times: Vec<_> = parts.iter().filter_map(|p| p.bucket_start).collect();
            let buckets = kpis::bucket_starts(&self.pool, granularity, &tz, &times).await?;
            for (bucket, part) in buckets.into_iter().zip(&parts) {
                figures::add_to_bucket(&mut rows, bucket, part);
            }
        }
        let mut total = kpis::SalesRow {
            bucket_start: Some(range.start),
            ..Default::default()
        };
        for row in &rows {
            total.order_count += row.order_count;
            total.cancelled_count += row.cancelled_count;
            total.units += row.units;
            total.gross_minor += row.gross_minor;
            total.refunds_minor += row.refunds_minor;
            total.kept_gross_minor += row.kept_gross_minor;
        }
        let bucket = |row: &kpis::SalesRow| SalesBucket {
            bucket_start: row.bucket_start.and_then(convert::timestamp),
            order_count: row.order_count,
            cancelled_count: row.cancelled_count,
            units: row.units,
            gross_sales: convert::money(&currency, row.gross_minor),
            refunds: convert::money(&currency, row.refunds_minor),
            net_sales: convert::money(&currency, row.kept_gross_minor - row.refunds_minor),
            average_order_value: domain::average_floor(row.gross_minor, row.order_count)
                .and_then(|aov| convert::money(&currency, aov)),
        };
        Ok(GetSalesTrendsResponse {
            currency_code: currency.clone(),
            buckets: rows.iter().map(bucket).collect(),
            totals: Some(bucket(&total)),
        })
    }

    pub async fn channel_mix(
        &self,
        req: &GetChannelMixRequest,
    ) -> Result<GetChannelMixResponse, Error> {
        let mut v = FieldViolations::new();
        let asked = convert::range("range", req.range.as_ref(), self.clock.now(), &mut v);
        let currency = convert::currency(
            "currency_code",
            &req.currency_code,
            &self.config.reporting_currency,
            &mut v,
        );
        let range = valid(v, asked.or_epoch())?;
        let mut rows = kpis::channel_mix(&self.pool, &range, &currency).await?;
        if req.include_archive {
            figures::add_channel_mix(&mut rows, &self.archived(&range).await?, &currency);
        }
        let orders: i64 = rows.iter().map(|r| r.order_count).sum();
        let revenue: i64 = rows.iter().map(|r| r.revenue_minor).sum();
        Ok(GetChannelMixResponse {
            currency_code: currency.clone(),
            entries: rows
                .iter()
                .map(|r| ChannelMixEntry {
                    channel: r.channel,
                    order_count: r.order_count,
                    order_share: domain::ratio(r.order_count, orders),
                    revenue: convert::money(&currency, r.revenue_minor),
                    revenue_share: domain::ratio(r.revenue_minor, revenue),
                    average_order_value: domain::average_floor(r.revenue_minor, r.order_count)
                        .and_then(|aov| convert::money(&currency, aov)),
                    completion_rate: domain::ratio(r.completed_count, r.order_count),
                    cancellation_rate: domain::ratio(r.cancelled_count, r.order_count),
                })
                .collect(),
        })
    }

    pub async fn cycle_times(
        &self,
        req: &GetCycleTimesRequest,
    ) -> Result<GetCycleTimesResponse, Error> {
        let mut v = FieldViolations::new();
        let asked = convert::range("range", req.range.as_ref(), self.clock.now(), &mut v);
        let channel = convert::channel("channel", req.channel, &mut v);
        let mode = convert::fulfillment_mode("fulfillment_mode", req.fulfillment_mode, &mut v);
        let range = valid(v, asked.or_epoch())?;
        let filter = CycleFilter {
            channel,
            fulfillment_mode: mode,
            warehouse_id: &req.warehouse_id,
        };
        let rows = kpis::cycle_times(&self.pool, &range, &filter).await?;
        Ok(GetCycleTimesResponse {
            stages: rows
                .iter()
                .filter_map(|r| {
                    let stage = Stage::from_code(r.stage)?;
                    Some(CycleTimeStat {
                        stage: stage.code(),
                        sample_count: r.sample_count,
                        mean: convert::duration(r.mean),
                        p50: convert::duration(r.p50),
                        p90: convert::duration(r.p90),
                        p95: convert::duration(r.p95),
                        max: convert::duration(r.max),
                    })
                })
                .collect(),
        })
    }

    pub async fn fulfillment_kpis(
        &self,
        req: &GetFulfillmentKpisRequest,
    ) -> Result<GetFulfillmentKpisResponse, Error> {
        let mut v = FieldViolations::new();
        let asked = convert::range("range", req.range.as_ref(), self.clock.now(), &mut v);
        let range = valid(v, asked.or_epoch())?;
        let all = kpis::fulfillment_kpis(&self.pool, &range, &req.warehouse_id).await?;
        let shape = |warehouse: Option<&String>, k: &kpis::WarehouseKpis| FulfillmentKpis {
            warehouse_id: warehouse.cloned().unwrap_or_default(),
            fulfillments_created: k.fulfillments_created,
            units_picked: k.units_picked,
            units_short_picked: k.units_short_picked,
            short_pick_rate: domain::ratio(
                k.units_short_picked,
                k.units_picked + k.units_short_picked,
            ),
            parcels_packed: k.parcels_packed,
            parcels_handed_over: k.parcels_handed_over,
            average_parcel_weight_grams: k.average_parcel_weight_grams,
            dispatch_time_p50: k.dispatch_p50.and_then(convert::duration),
            dispatch_time_p90: k.dispatch_p90.and_then(convert::duration),
            pickups_ready: k.pickups_ready,
            pickups_collected: k.pickups_collected,
            shipments_delivered: k.shipments_delivered,
            delivery_failures: k.delivery_failures,
            first_attempt_delivery_rate: domain::ratio(
                k.delivered_first_attempt,
                k.shipments_delivered,
            ),
            on_time_delivery_rate: domain::ratio(k.delivered_on_time, k.delivered_with_eta),
        };
        Ok(GetFulfillmentKpisResponse {
            warehouses: all
                .iter()
                .filter(|(w, k)| w.is_some() && k.has_activity())
                .map(|(w, k)| shape(w.as_ref(), k))
                .collect(),
            overall: all.get(&None).map(|k| shape(None, k)),
        })
    }

    pub async fn return_stats(
        &self,
        req: &GetReturnStatsRequest,
    ) -> Result<GetReturnStatsResponse, Error> {
        let mut v = FieldViolations::new();
        let asked = convert::range("range", req.range.as_ref(), self.clock.now(), &mut v);
        let currency = convert::currency(
            "currency_code",
            &req.currency_code,
            &self.config.reporting_currency,
            &mut v,
        );
        let top = convert::limit("top_sku_count", req.top_sku_count, 10, 1_000, &mut v);
        let range = valid(v, asked.or_epoch())?;
        let s = kpis::return_stats(&self.pool, &range, &currency, &req.sku, top).await?;
        Ok(GetReturnStatsResponse {
            return_count: s.return_count,
            returned_units: s.returned_units,
            delivered_units: s.delivered_units,
            return_rate: domain::ratio(s.returned_units, s.delivered_units),
            refunded_amount: convert::money(&currency, s.refunded_minor),
            exchange_count: s.exchange_count,
            rejected_count: s.rejected_count,
            by_reason: s
                .by_reason
                .iter()
                .map(|&(reason, return_count, units)| ReturnReasonStat {
                    reason,
                    return_count,
                    units,
                })
                .collect(),
            top_skus: s
                .top_skus
                .iter()
                .map(|(sku, delivered, returned)| SkuReturnStat {
                    sku: sku.clone(),
                    units_delivered: *delivered,
                    units_returned: *returned,
                    return_rate: domain::ratio(*returned, *delivered),
                })
                .collect(),
            problems: s
                .problems
                .iter()
                .map(|&(kind, count)| ProblemKindStat { kind, count })
                .collect(),
        })
    }

    pub async fn feedback_summary(
        &self,
        req: &GetFeedbackSummaryRequest,
    ) -> Result<GetFeedbackSummaryResponse, Error> {
        let mut v = FieldViolations::new();
        let asked = convert::range("range", req.range.as_ref(), self.clock.now(), &mut v);
        let range = valid(v, asked.or_epoch())?;
        let s = kpis::feedback_stats(&self.pool, &range, &req.sku).await?;
        let nps = Nps {
            promoters: s.promoters,
            passives: s.passives,
            detractors: s.detractors,
        };
        Ok(GetFeedbackSummaryResponse {
            surveys_sent: s.surveys_sent,
            surveys_submitted: s.surveys_submitted,
            response_rate: domain::ratio(s.surveys_submitted, s.surveys_sent),
            average_csat: s.average_csat.unwrap_or(0.0),
            nps: nps.score(),
            promoters: s.promoters,
            passives: s.passives,
            detractors: s.detractors,
            reviews_published: s.reviews_published,
            average_rating: s.average_rating.unwrap_or(0.0),
            rating_counts: (1..=5)
                .zip(s.rating_counts)
                .map(|(rating, count)| RatingCount { rating, count })
                .collect(),
            cases_opened: s.cases_opened,
            cases_resolved: s.cases_resolved,
            sla_breaches: s.sla_breaches,
            median_resolution_time: s.median_resolution.and_then(convert::duration),
            resolutions: s
                .resolutions
                .iter()
                .map(|&(resolution, count)| ResolutionCount { resolution, count })
                .collect(),
        })
    }

    pub async fn order_kpis(
        &self,
        req: &GetOrderKpisRequest,
    ) -> Result<GetOrderKpisResponse, Error> {
        let mut v = FieldViolations::new();
        let asked = convert::range("range", req.range.as_ref(), self.clock.now(), &mut v);
        let channel = convert::channel("channel", req.channel, &mut v);
        let range = valid(v, asked.or_epoch())?;
        let (k, reasons, methods) = kpis::order_kpis(&self.pool, &range, channel).await?;
        let decided: i64 = methods.iter().map(|m| m.2 + m.3).sum();
        let declined: i64 = methods.iter().map(|m| m.3).sum();
        Ok(GetOrderKpisResponse {
            order_count: k.order_count,
            delivered_count: k.delivered_count,
            perfect_order_count: k.perfect_count,
            perfect_order_rate: domain::ratio(k.perfect_count, k.delivered_count),
            cancelled_count: k.cancelled_count,
            cancellation_rate: domain::ratio(k.cancelled_count, k.order_count),
            cancellations: reasons
                .iter()
                .map(|&(reason, count)| CancelReasonCount { reason, count })
                .collect(),
            shortage_count: k.shortage_count,
            shortage_rate: domain::ratio(k.shortage_count, k.order_count),
            held_count: k.held_count,
            hold_rate: domain::ratio(k.held_count, k.order_count),
            approved_count: k.approved_count,
            rejected_count: k.rejected_count,
            decision_time_p50: k.decision_p50.and_then(convert::duration),
            decision_time_p90: k.decision_p90.and_then(convert::duration),
            payment_methods: methods
                .iter()
                .map(
                    |&(method, orders, authorized, declined)| PaymentMethodStat {
                        method,
                        order_count: orders,
                        order_share: domain::ratio(orders, k.order_count),
                        authorized_count: authorized,
                        declined_count: declined,
                        decline_rate: domain::ratio(declined, authorized + declined),
                    },
                )
                .collect(),
            decline_rate: domain::ratio(declined, decided),
            customer_count: k.customer_count,
            repeat_customer_count: k.repeat_customer_count,
            repeat_customer_rate: domain::ratio(k.repeat_customer_count, k.customer_count),
        })
    }

    pub async fn sales_breakdown(
        &self,
        req: &GetSalesBreakdownRequest,
    ) -> Result<GetSalesBreakdownResponse, Error> {
        let mut v = FieldViolations::new();
        let asked = convert::range("range", req.range.as_ref(), self.clock.now(), &mut v);
        let dimension = convert::dimension("dimension", req.dimension, &mut v);
        let currency = convert::currency(
            "currency_code",
            &req.currency_code,
            &self.config.reporting_currency,
            &mut v,
        );
        let limit = convert::limit("limit", req.limit, 20, 1_000, &mut v);
        let range = valid(v, asked.or_epoch())?;
        let rows = kpis::sales_breakdown(&self.pool, &range, dimension, &currency, limit).await?;
        Ok(GetSalesBreakdownResponse {
            currency_code: currency.clone(),
            entries: rows
                .iter()
                .map(|r| SalesBreakdownEntry {
                    key: match dimension {
                        domain::Dimension::Channel => channel_name(&r.key),
                        _ => r.key.clone(),
                    },
                    order_count: r.order_count,
                    units: r.units,
                    revenue: convert::money(&currency, r.revenue_minor),
                    revenue_share: domain::ratio(r.revenue_minor, r.all_revenue_minor),
                })
                .collect(),
        })
    }

    pub async fn customer_cohorts(
        &self,
        req: &GetCustomerCohortsRequest,
    ) -> Result<GetCustomerCohortsResponse, Error> {
        let mut v = FieldViolations::new();
        let asked = convert::range("range", req.range.as_ref(), self.clock.now(), &mut v);
        let range = valid(v, asked.or_epoch())?;
        let last_month = domain::month_index(range.end - chrono::Duration::microseconds(1));
        let mut cohorts: Vec<CustomerCohort> = Vec::new();
        for row in kpis::customer_cohorts(&self.pool, &range).await? {
            if row.offset < 0 {
                let months = last_month - domain::month_index(row.month_start) + 1;
                cohorts.push(CustomerCohort {
                    month_start: convert::timestamp(row.month_start),
                    customers: row.customers,
                    repeat_customers: row.repeat_customers,
                    repeat_rate: domain::ratio(row.repeat_customers, row.customers),
                    ordered_again: vec![0; usize::try_from(months).unwrap_or(0)],
                });
            } else if let Some(slot) = cohorts
                .last_mut()
                .and_then(|c| c.ordered_again.get_mut(usize::try_from(row.offset).ok()?))
            {
                *slot = row.customers;
            }
        }
        Ok(GetCustomerCohortsResponse { cohorts })
    }
}

/// A channel number (as text) by its protobuf value name.
pub fn channel_name(number: &str) -> String {
    number
        .parse::<i32>()
        .ok()
        .and_then(|n| Channel::try_from(n).ok())
        .map_or_else(|| number.to_owned(), |c| c.as_str_name().to_owned())
}

/// The range when every field was valid, else every violation.
fn valid(v: FieldViolations, range: Option<Range>) -> Result<Range, Error> {
    match range {
        Some(range) if v.is_empty() => Ok(range),
        _ if !v.is_empty() => Err(v.into()),
        _ => {
            let mut v = v;
            v.add("range.end", "must be after the range start");
            Err(v.into())
        }
    }
}

#[tonic::async_trait]
impl AnalyticsService for AnalyticsApi {
    async fn get_sales_trends(
        &self,
        request: Request<GetSalesTrendsRequest>,
    ) -> Result<Response<GetSalesTrendsResponse>, Status> {
        authorize(&request)?;
        Ok(Response::new(self.sales_trends(request.get_ref()).await?))
    }

    async fn get_channel_mix(
        &self,
        request: Request<GetChannelMixRequest>,
    ) -> Result<Response<GetChannelMixResponse>, Status> {
        authorize(&request)?;
        Ok(Response::new(self.channel_mix(request.get_ref()).await?))
    }

    async fn get_cycle_times(
        &self,
        request: Request<GetCycleTimesRequest>,
    ) -> Result<Response<GetCycleTimesResponse>, Status> {
        authorize(&request)?;
        Ok(Response::new(self.cycle_times(request.get_ref()).await?))
    }

    async fn get_fulfillment_kpis(
        &self,
        request: Request<GetFulfillmentKpisRequest>,
    ) -> Result<Response<GetFulfillmentKpisResponse>, Status> {
        authorize(&request)?;
        Ok(Response::new(
            self.fulfillment_kpis(request.get_ref()).await?,
        ))
    }

    async fn get_return_stats(
        &self,
        request: Request<GetReturnStatsRequest>,
    ) -> Result<Response<GetReturnStatsResponse>, Status> {
        authorize(&request)?;
        Ok(Response::new(self.return_stats(request.get_ref()).await?))
    }

    async fn get_feedback_summary(
        &self,
        request: Request<GetFeedbackSummaryRequest>,
    ) -> Result<Response<GetFeedbackSummaryResponse>, Status> {
        authorize(&request)?;
        Ok(Response::new(
            self.feedback_summary(request.get_ref()).await?,
        ))
    }

    async fn get_order_kpis(
        &self,
        request: Request<GetOrderKpisRequest>,
    ) -> Result<Response<GetOrderKpisResponse>, Status> {
        authorize(&request)?;
        Ok(Response::new(self.order_kpis(request.get_ref()).await?))
    }

    async fn get_sales_breakdown(
        &self,
        request: Request<GetSalesBreakdownRequest>,
    ) -> Result<Response<GetSalesBreakdownResponse>, Status> {
        authorize(&request)?;
        Ok(Response::new(
            self.sales_breakdown(request.get_ref()).await?,
        ))
    }

    async fn get_customer_cohorts(
        &self,
        request: Request<GetCustomerCohortsRequest>,
    ) -> Result<Response<GetCustomerCohortsResponse>, Status> {
        authorize(&request)?;
        Ok(Response::new(
            self.customer_cohorts(request.get_ref()).await?,
        ))
    }

    async fn export_orders(
        &self,
        request: Request<ExportOrdersRequest>,
    ) -> Result<Response<ExportStream>, Status> {
        authorize(&request)?;
        let plan = export::plan(self, request.get_ref())?;
        Ok(Response::new(Box::pin(export::stream(self.clone(), plan))))
    }
}
