//! The notifications gRPC API: a customer's preferences (GetPreferences / SetPreferences, an
//! upsert keyed by customer_id) and the delivery log (ListNotifications, newest first, paged).
//! Customers see and change only their own; support staff and services see everyone's, staff
//! alerts included. Requests are checked in [`convert`]; errors map once through
//! [`crate::error::Error`].

mod convert;

use runtime::Role;
use runtime::auth::Actor;
use runtime::grpc::FieldViolations;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use contracts::notifications::notification_service_server::NotificationService;
use contracts::notifications::{
    GetPreferencesRequest, GetPreferencesResponse, ListNotificationsRequest,
    ListNotificationsResponse, SetPreferencesRequest, SetPreferencesResponse,
};

use crate::domain::preferences::Preferences;
use crate::error::Error;
use crate::store;
use crate::store::notifications::{Cursor, Filter};

#[derive(Clone)]
pub struct NotificationsApi {
    pub pool: PgPool,
    pub clock: runtime::Clock,
}

fn caller<T>(request: &Request<T>) -> Result<Actor, Status> {
    let actor = runtime::auth::actor(request)?;
    actor.require_any(&[Role::Customer, Role::Operator, Role::Service])?;
    Ok(actor)
}

fn may_access(actor: &Actor, customer_id: &str) -> Result<(), Error> {
    if actor.may_access_customer(customer_id) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(
            "customers may only see and change their own notifications".into(),
        ))
    }
}

#[tonic::async_trait]
impl NotificationService for NotificationsApi {
    async fn get_preferences(
        &self,
        request: Request<GetPreferencesRequest>,
    ) -> Result<Response<GetPreferencesResponse>, Status> {
        let actor = caller(&request)?;
        let request = request.into_inner();
        let mut v = FieldViolations::new();
        convert::customer_id(&mut v, "customer_id", &request.customer_id);
        if !v.is_empty() {
            return Err(Error::from(v).into());
        }
        may_access(&actor, &request.customer_id)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let prefs = store::preferences::get(&mut conn, &request.customer_id)
            .await
            .map_err(Error::from)?
            .unwrap_or_else(|| Preferences::defaults(&request.customer_id));
        Ok(Response::new(GetPreferencesResponse {
            preferences: Some(convert::preferences_pb(&prefs)),
        }))
    }

    async fn set_preferences(
        &self,
        request: Request<SetPreferencesRequest>,
    ) -> Result<Response<SetPreferencesResponse>, Status> {
        let actor = caller(&request)?;
        let prefs = convert::preferences(request.into_inner().preferences).map_err(Error::from)?;
        may_access(&actor, &prefs.customer_id)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let stored = store::preferences::put(&mut conn, &prefs, self.clock.now())
            .await
            .map_err(Error::from)?;
        tracing::info!(customer_id = %stored.customer_id, actor = %actor.id, "preferences set");
        Ok(Response::new(SetPreferencesResponse {
            preferences: Some(convert::preferences_pb(&stored)),
        }))
    }

    async fn list_notifications(
        &self,
        request: Request<ListNotificationsRequest>,
    ) -> Result<Response<ListNotificationsResponse>, Status> {
        let actor = caller(&request)?;
        let request = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = match i64::from(request.page_size) {
            0 => convert::DEFAULT_PAGE,
            n if n < 0 => {
                v.add("page_size", "must not be negative");
                0
            }
            n => n.min(convert::MAX_PAGE),
        };
        let after: Option<Cursor> = if request.page_token.is_empty() {
            None
        } else {
            let cursor = convert::parse_page_token(&request.page_token);
            if cursor.is_none() {
                v.add("page_token", "is not a token this API returned");
            }
            cursor
        };
        if request.customer_id.len() > convert::MAX_ID {
            v.add(
                "customer_id",
                format!("must be at most {} characters", convert::MAX_ID),
            );
        }
        if request.order_id.len() > convert::MAX_ID {
            v.add(
                "order_id",
                format!("must be at most {} characters", convert::MAX_ID),
            );
        }
        let channel =
            convert::known_enum(&mut v, "channel", request.channel, convert::channel_from_pb);
        let status = convert::known_enum(&mut v, "status", request.status, convert::status_from_pb);
        if !v.is_empty() {
            return Err(Error::from(v).into());
        }
        runtime::telemetry::record_order_id(&request.order_id);
        let mut customer_id = (!request.customer_id.is_empty()).then_some(request.customer_id);
        if !actor.is_staff() {
            // A customer's list is always their own, whatever they asked for.
            match &customer_id {
                Some(id) => may_access(&actor, id)?,
                None => customer_id = Some(actor.id.clone()),
            }
        }
        let filter = Filter {
            customer_id,
            order_id: (!request.order_id.is_empty()).then_some(request.order_id),
            channel,
            status,
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        // One row more than asked tells whether another page follows.
        let mut rows = store::notifications::list(&mut conn, &filter, after, limit + 1)
            .await
            .map_err(Error::from)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next_page_token = match rows.last() {
            Some(last) if more => convert::page_token(Cursor {
                created_at: last.created_at,
                id: last.id,
            }),
            _ => String::new(),
        };
        Ok(Response::new(ListNotificationsResponse {
            notifications: rows.iter().map(convert::notification_pb).collect(),
            next_page_token,
        }))
    }
}
