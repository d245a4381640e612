//! Follow-up rules from the config: stored per clinic, their templates checked, and applied
//! inside a patient turn.

use super::*;

fn price_rule() -> FollowupRule {
    FollowupRule {
        name: "price_no_booking".into(),
        trigger: "price".into(),
        unless: Some("booking".into()),
        delay: Duration::hours(20),
        kind: "nudge".into(),
        template: "followup_nudge".into(),
        clinics: Vec::new(),
    }
}

async fn pending(fx: &Fixture) -> Vec<rows::FollowupRow> {
    fx.db
        .read(|c| rows::list_followups(c, false, 10))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.row)
        .collect()
}

#[tokio::test]
async fn a_price_question_schedules_one_rule_nudge_and_a_booking_wish_prevents_it() {
    let fx = fixture().await;
    fx.db
        .write(|c| sync_rules(c, CLINIC, &[price_rule()], noon()))
        .await
        .unwrap();
    fx.patient_turn(Some("price"), Some("fast_price")).await;
    let first = pending(&fx).await;
    assert_eq!(first.len(), 1);
    let nudge = &first[0];
    assert_eq!(nudge.rule.as_deref(), Some("price_no_booking"));
    assert_eq!(nudge.source, "rule");
    assert_eq!(nudge.due_at, time::to_db(noon() + Duration::hours(20)));
    assert_eq!(fx.session_due().await, Some(nudge.due_at.clone()));

    // Another price question replaces it: still one pending per chat and rule.
    fx.patient_turn(Some("price"), Some("fast_price")).await;
    let second = pending(&fx).await;
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].id, nudge.id);

    // A booking wish cancels it (a reply) and, within the rule's delay, stops new ones.
    fx.patient_turn(Some("booking"), Some("fast_booking")).await;
    assert!(pending(&fx).await.is_empty());
    fx.patient_turn(Some("price"), Some("fast_price")).await;
    assert!(pending(&fx).await.is_empty());
    assert_eq!(fx.session_due().await, None);
}

#[test]
fn rules_naming_a_missing_template_or_a_value_they_cannot_have_are_refused() {
    let router = Router::builtin();
    assert!(check_rules(&router, &[price_rule()], "ru").is_ok());
    let mut unknown = price_rule();
    unknown.template = "followup_typo".into();
    let err = check_rules(&router, &[unknown], "ru")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("price_no_booking") && err.contains("followup_typo"),
        "{err}"
    );
    let mut needs_service = price_rule();
    needs_service.template = "followup_service".into();
    let err = check_rules(&router, &[needs_service], "ru")
        .unwrap_err()
        .to_string();
    assert!(err.contains("{service}"), "{err}");
}

#[tokio::test]
async fn configured_rules_hold_for_every_clinic_on_the_node_and_follow_the_config() {
    let fx = fixture().await;
    let rules_of = |clinic: &'static str| {
        let db = fx.db.clone();
        async move {
            db.read(move |c| -> Result<Vec<String>, DbError> {
                let mut stmt = c.prepare("SELECT name FROM followup_rules WHERE clinic_id = ?1")?;
                let names = stmt.query_map([clinic], |r| r.get(0))?;
                Ok(names.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap()
        }
    };
    let at = time::to_db(noon());
    fx.db
        .write(move |c| {
            let mut second = clinics::find_clinic(c, CLINIC)?.unwrap();
            second.id = "clinic-2".into();
            clinics::upsert_clinic(c, &second, &at)?;
            sync_rules_for_all_clinics(c, &[price_rule()], noon())
        })
        .await
        .unwrap();
    assert_eq!(rules_of(CLINIC).await, ["price_no_booking"]);
    assert_eq!(rules_of("clinic-2").await, ["price_no_booking"]);
    // A rule removed from the config is removed everywhere at the next start.
    fx.db
        .write(|c| sync_rules_for_all_clinics(c, &[], noon()))
        .await
        .unwrap();
    assert!(rules_of(CLINIC).await.is_empty());
    assert!(rules_of("clinic-2").await.is_empty());
    // One clinic's own rule, with its own template (its wording in each language pack).
    let chain = vec![
        FollowupRule {
            clinics: vec![CLINIC.into()],
            ..price_rule()
        },
        FollowupRule {
            template: "followup_check_in".into(),
            clinics: vec!["clinic-2".into()],
            ..price_rule()
        },
    ];
    fx.db
        .write(move |c| sync_rules_for_all_clinics(c, &chain, noon()))
        .await
        .unwrap();
    assert_eq!(rules_of(CLINIC).await, ["price_no_booking"]);
    let template_of = |clinic: &'static str| {
        let db = fx.db.clone();
        async move {
            db.read(move |c| -> Result<String, DbError> {
                Ok(c.query_row(
                    "SELECT template FROM followup_rules WHERE clinic_id = ?1",
                    [clinic],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(template_of(CLINIC).await, "followup_nudge");
    assert_eq!(template_of("clinic-2").await, "followup_check_in");
}
