//! What patients get back, end to end through the webhook and the gateway: prices in three
//! languages with inflections and typos, services not on the list, hours, address, handoffs.

use crate::helpers::*;

const PHONE: &str = "79990001122";

#[tokio::test]
async fn price_questions_in_russian_english_and_spanish_get_the_listed_price() {
    let app = spawn_app().await;
    let cases = [
        ("пломбу световую поставить сколько?", "4 500 ₽"),
        ("цена на пломбы световые", "4 500 ₽"),
        ("почём отбеливание Zoom?", "18 000 ₽"),
        ("сколько стоит удаление зуба мудрости", "7 500 ₽"),
        ("how much is teeth whitening?", "18,000 ₽"),
        ("how much does a zirconia crown cost", "28,000 ₽"),
        ("¿cuánto cuesta una limpieza?", "5.500 ₽"),
        ("precio de un empaste de composite", "4.500 ₽"),
    ];
    for (i, (question, price)) in cases.iter().enumerate() {
        let reply = app.ask(&format!("7999100000{i}"), question).await;
        assert!(reply.contains(price), "{question:?} → {reply:?}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn replies_come_in_the_patients_language() {
    let app = spawn_app().await;
    let en = app.ask("79991000011", "how much is teeth whitening?").await;
    let es = app.ask("79991000012", "¿cuánto cuesta una limpieza?").await;
    let ru = app
        .ask("79991000013", "сколько стоит отбеливание зубов?")
        .await;
    assert!(en.contains("book"), "{en}");
    assert!(es.contains("cita"), "{es}");
    assert!(ru.contains("записаться"), "{ru}");
    app.shutdown().await;
}

#[tokio::test]
async fn small_typos_still_find_the_service() {
    let app = spawn_app().await;
    for (i, (question, price)) in [
        ("сколко стоит отбеливане", "18 000 ₽"),
        ("how much is teeth whitenning", "18,000 ₽"),
        ("cuanto questa una limpiesa", "5.500 ₽"),
    ]
    .iter()
    .enumerate()
    {
        let reply = app.ask(&format!("7999200000{i}"), question).await;
        assert!(reply.contains(price), "{question:?} → {reply:?}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn an_ambiguous_question_lists_the_candidates_instead_of_guessing() {
    let app = spawn_app().await;
    let reply = app.ask(PHONE, "Сколько стоит пломба?").await;
    assert!(
        reply.contains("Пломба световая") && reply.contains("4 500 ₽"),
        "{reply}"
    );
    assert!(
        reply.contains("Пломба цементная") && reply.contains("2 500 ₽"),
        "{reply}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_service_the_clinic_does_not_offer_is_said_so_without_a_price() {
    let app = spawn_app().await;
    let reply = app.ask(PHONE, "сколько стоит пересадка волос?").await;
    assert!(reply.contains("пересадка волос"), "{reply}");
    assert!(!reply.contains('₽'), "a price was invented: {reply}");
    let reply = app
        .ask("79990001123", "how much is a hair transplant?")
        .await;
    assert!(reply.contains("is not on our price list"), "{reply}");
    assert!(!reply.contains('₽'), "a price was invented: {reply}");
    app.shutdown().await;
}

#[tokio::test]
async fn the_whole_price_list_on_request() {
    let app = spawn_app().await;
    let reply = app.ask(PHONE, "пришлите прайс").await;
    assert!(
        reply.contains("Пломба световая") && reply.contains("Имплантация Straumann"),
        "{reply}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn hours_and_address_come_from_the_clinics_configuration() {
    let app = spawn_app().await;
    let hours = app.ask(PHONE, "когда вы работаете?").await;
    assert!(
        hours.contains("09:00") && hours.contains("20:00"),
        "{hours}"
    );
    let address = app.ask(PHONE, "где вы находитесь?").await;
    assert!(address.contains("ул. Тверская, 12"), "{address}");
    app.shutdown().await;
}

async fn handoff(app: &TestApp) -> (String, i64) {
    let c = app.sqlite();
    c.query_row(
        "SELECT reason, urgent FROM handoffs ORDER BY created_at DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[tokio::test]
async fn a_booking_wish_is_handed_to_staff_and_never_confirmed() {
    let app = spawn_app().await;
    let reply = app
        .ask(PHONE, "хочу записаться на чистку завтра в 10")
        .await;
    assert_eq!(handoff(&app).await, ("booking".into(), 0));
    let lower = reply.to_lowercase();
    assert!(lower.contains("администратор"), "{reply}");
    assert!(
        !lower.contains("вы записаны") && !lower.contains("подтверждаем"),
        "the bot confirmed a booking: {reply}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn emergency_words_give_an_urgent_handoff_and_no_diagnosis() {
    let app = spawn_app().await;
    let reply = app
        .ask(PHONE, "сильно болит зуб и опухла щека, что делать?")
        .await;
    assert_eq!(handoff(&app).await, ("emergency".into(), 1));
    assert!(reply.contains("112") || reply.contains("103"), "{reply}");
    for diagnosis in ["пульпит", "периодонтит", "флюс", "антибиотик", "ибупрофен"]
    {
        assert!(
            !reply.to_lowercase().contains(diagnosis),
            "diagnosis or advice in {reply}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn asking_for_a_human_hands_the_chat_to_staff() {
    let app = spawn_app().await;
    app.ask(PHONE, "позовите администратора пожалуйста").await;
    assert_eq!(handoff(&app).await, ("human".into(), 0));
    app.shutdown().await;
}

#[tokio::test]
async fn what_the_fast_path_cannot_answer_gets_the_polite_fallback_and_a_handoff() {
    let app = spawn_app().await;
    let reply = app.ask(PHONE, "можно ли приходить с собакой?").await;
    assert!(reply.contains("ответит"), "{reply}");
    assert_eq!(handoff(&app).await, ("unanswered".into(), 0));
    let en = app.ask("79990009991", "can I bring my dog?").await;
    assert!(en.to_lowercase().contains("colleague"), "{en}");
    app.shutdown().await;
}
