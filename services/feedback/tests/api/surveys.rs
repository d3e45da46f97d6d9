use contracts::feedback::{
    GetSurveyRequest, SubmitSurveyRequest, SurveyInvited, SurveyStatus, SurveySubmitted, SurveyTag,
};
use contracts::time::{from_timestamp, to_timestamp};
use feedback::outgoing::SurveyInvitedEvent;
use tonic::Code;

use crate::helpers::{QUIET, TestApp, bad_fields, delivered, request_id};

fn answer(survey_id: &str, request_id: &str, csat: i32) -> SubmitSurveyRequest {
    SubmitSurveyRequest {
        request_id: request_id.into(),
        survey_id: survey_id.into(),
        csat_score: csat,
        nps_score: Some(9),
        comment: "Quick and friendly".into(),
        tags: vec![
            SurveyTag::DeliverySpeed.into(),
            SurveyTag::ServiceAttitude.into(),
        ],
    }
}

#[tokio::test]
async fn the_survey_invitation_goes_out_the_configured_delay_after_delivery_on_the_service_clock() {
    let app = TestApp::scaled().await;
    let mut invited = app.env.tap("feedback.survey.invited").await;
    let mut order = delivered("cust-1", &["TEA-001", "CUP-002"]);
    let delivered_at = app.env.settings.clock.now();
    order.delivered_at = Some(to_timestamp(delivered_at));
    app.publish(&order).await;

    let SurveyInvitedEvent(event) = invited.next::<SurveyInvitedEvent>().await;
    let event: SurveyInvited = event;
    assert_eq!(event.order_id, order.order_id);
    assert_eq!(event.order_number, order.order_number);
    assert_eq!(event.customer.as_ref().unwrap().email, "mei@example.com");
    assert_eq!(event.skus, ["CUP-002", "TEA-001"]);
    let invited_at = from_timestamp(event.invited_at.as_ref().unwrap()).unwrap();
    let expires_at = from_timestamp(event.expires_at.as_ref().unwrap()).unwrap();
    // Not before the two hours of the configured delay had passed on the service clock.
    assert!(invited_at >= delivered_at + chrono::Duration::hours(2));
    assert_eq!(expires_at - invited_at, chrono::Duration::days(30));

    let survey = app.survey_of(&order.order_id).await;
    assert_eq!(survey.id, event.survey_id);
    assert_eq!(survey.status(), SurveyStatus::Invited);
    assert_eq!(
        from_timestamp(survey.invite_at.as_ref().unwrap()).unwrap(),
        delivered_at + chrono::Duration::hours(2)
    );
}

#[tokio::test]
async fn a_survey_is_answered_once_and_the_answer_is_published() {
    let app = TestApp::scaled().await;
    let mut submitted = app.env.tap("feedback.survey.submitted").await;
    let mut invited = app.env.tap("feedback.survey.invited").await;
    let order = delivered("cust-1", &["TEA-001"]);
    app.publish(&order).await;
    let SurveyInvitedEvent(invitation) = invited.next().await;
    let mut client = app.client().await;

    let rid = request_id();
    let survey = client
        .submit_survey(answer(&invitation.survey_id, &rid, 5))
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap();
    assert_eq!(survey.status(), SurveyStatus::Submitted);
    assert_eq!(survey.csat_score, Some(5));
    assert_eq!(survey.nps_score, Some(9));
    assert_eq!(survey.tags.len(), 2);

    let event: SurveySubmitted = submitted.next().await;
    assert_eq!(event.survey_id, invitation.survey_id);
    assert_eq!(event.order_id, order.order_id);
    assert_eq!(event.csat_score, 5);
    assert_eq!(
        event.tags,
        [
            i32::from(SurveyTag::DeliverySpeed),
            i32::from(SurveyTag::ServiceAttitude)
        ]
    );

    // The same request again is answered with the same survey, and publishes nothing.
    let replay = client
        .submit_survey(answer(&invitation.survey_id, &rid, 5))
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap();
    assert_eq!(replay.submitted_at, survey.submitted_at);
    // The same request id for another answer is refused.
    let reused = client
        .submit_survey(answer(&invitation.survey_id, &rid, 1))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    // A second, different answer is refused.
    let second = client
        .submit_survey(answer(&invitation.survey_id, &request_id(), 2))
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::FailedPrecondition);
    assert!(submitted.next_within(QUIET).await.is_none());
}

#[tokio::test]
async fn a_survey_cannot_be_answered_before_its_invitation() {
    // Real time: the default delay (a day) does not pass during the test.
    let app = TestApp::start().await;
    let order = delivered("cust-1", &["TEA-001"]);
    app.publish(&order).await;
    let survey = app.survey_of(&order.order_id).await;
    assert_eq!(survey.status(), SurveyStatus::Scheduled);
    assert!(survey.invited_at.is_none());
    let err = app
        .client()
        .await
        .submit_survey(answer(&survey.id, &request_id(), 4))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn invalid_survey_answers_name_every_bad_field() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let err = client
        .submit_survey(SubmitSurveyRequest {
            request_id: String::new(),
            survey_id: "not-a-uuid".into(),
            csat_score: 6,
            nps_score: Some(11),
            comment: "x".repeat(4001),
            tags: vec![0, 99],
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        [
            "request_id",
            "survey_id",
            "csat_score",
            "nps_score",
            "comment",
            "tags[0]",
            "tags[1]"
        ]
    );

    let unknown = client
        .submit_survey(answer(&uuid::Uuid::new_v4().to_string(), &request_id(), 3))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let both = client
        .get_survey(GetSurveyRequest::default())
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&both), ["survey_id"]);
    let missing = client
        .get_survey(GetSurveyRequest {
            order_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}
