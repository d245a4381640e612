//! Handoffs and the rest: "call a human", booking wishes, emergencies, thanks, and messages
//! the fast path cannot answer, with the replies a patient would see.

use super::support::*;
use crate::router::{Handoff, HandoffReason, Intent, PriceMatch, Route};

#[test]
fn asking_for_a_person_hands_the_chat_to_staff() {
    for text in [
        "позовите администратора",
        "хочу поговорить с человеком",
        "talk to a human",
        "hablar con una persona",
        "хочу поговорить с врачом лично",
        "me pueden llamar por favor",
    ] {
        let reply = answer(text);
        assert_eq!(ask(text).intents, vec![Intent::Human], "{text}");
        assert_eq!(reply.route, Route::Human);
        assert_eq!(
            reply.handoff,
            Some(Handoff {
                reason: HandoffReason::Human,
                urgent: false
            })
        );
        assert!(!reply.needs_llm);
    }
    assert!(
        answer("talk to a human")
            .text
            .contains("passing you to a colleague")
    );
}

#[test]
fn booking_wishes_go_to_staff_and_the_bot_never_confirms_a_time() {
    for text in [
        "хочу записаться на чистку",
        "can I book an appointment tomorrow",
        "quiero una cita",
        "запишите меня на завтра в 10:00",
    ] {
        let reply = answer(text);
        assert_eq!(reply.route, Route::Booking, "{text}");
        assert_eq!(
            reply.handoff,
            Some(Handoff {
                reason: HandoffReason::Booking,
                urgent: false
            })
        );
        assert!(
            !reply.text.contains("10:00"),
            "{text}: the bot never names a time"
        );
    }
    assert_eq!(
        ask("хочу записаться на чистку").price,
        PriceMatch::One("HYG-CLEAN".into())
    );
    assert!(
        answer("quiero una cita")
            .text
            .contains("confirmar una hora")
    );
}

#[test]
fn a_booking_that_also_asks_the_price_includes_the_price() {
    let reply = answer("хочу записаться на чистку, сколько стоит?");
    assert_eq!(reply.route, Route::Booking);
    let text = plain(&reply.text);
    assert!(
        text.starts_with("Профессиональная чистка зубов — 5 500 ₽.\n\nСпасибо! Передали"),
        "{text}"
    );
    assert!(!plain(&answer("хочу записаться на чистку").text).contains('₽'));
}

#[test]
fn a_booking_that_also_asks_the_hours_includes_them() {
    let reply = answer("в какое время можно прийти в воскресенье");
    assert_eq!(reply.route, Route::Booking);
    let text = plain(&reply.text);
    assert!(text.contains("Вс: выходной"), "{text}");
    assert!(
        text.ends_with("чтобы подобрать и подтвердить время."),
        "{text}"
    );
}

#[test]
fn emergencies_are_handed_off_urgently_with_the_emergency_template_in_each_language() {
    for text in [
        "сильно болит зуб, щека опухла",
        "срочно",
        "после удаления идёт кровь",
        "у ребенка высокая температура",
        "зуб болит нестерпимо",
        "невыносимо болит десна",
        "не могу уснуть от боли",
        "urgent",
        "severe pain and swelling",
        "my tooth got knocked out",
        "emergencia",
        "tengo mucho dolor y fiebre",
    ] {
        let (u, reply) = (ask(text), answer(text));
        assert_eq!(u.primary(), Intent::Emergency, "{text}");
        assert_eq!(reply.route, Route::Emergency);
        assert_eq!(
            reply.handoff,
            Some(Handoff {
                reason: HandoffReason::Emergency,
                urgent: true
            })
        );
        assert!(reply.text.contains("112"), "{text}");
    }
}

#[test]
fn an_emergency_wins_over_every_other_intent_and_gets_no_price() {
    let text = "Здравствуйте, сколько стоит удаление зуба? Сильное кровотечение";
    assert_eq!(ask(text).primary(), Intent::Emergency);
    let reply = answer(text);
    assert!(!reply.text.contains('₽') && !reply.text.starts_with("Здравствуйте"));
}

#[test]
fn thanks_get_a_short_polite_reply() {
    for (text, start) in [
        ("спасибо", "Пожалуйста!"),
        ("thanks!", "You're welcome!"),
        ("gracias", "¡De nada!"),
        ("ок спасибо поняла", "Пожалуйста!"),
        ("thank you so much see you soon", "You're welcome!"),
        ("muchas gracias hasta luego", "¡De nada!"),
        ("спасибо за информацию до свидания", "Пожалуйста!"),
    ] {
        let reply = answer(text);
        assert_eq!(reply.route, Route::Thanks, "{text}");
        assert!(reply.text.starts_with(start));
    }
}

#[test]
fn anything_else_goes_to_the_llm_with_the_fallback_ready_in_the_patients_language() {
    for (text, language) in [
        ("есть ли у вас парковка?", "ru"),
        ("Здравствуйте, можно ли после удаления пить кофе", "ru"),
        ("hello, I have a question about my treatment plan", "en"),
        ("ok", "ru"),
    ] {
        let (u, reply) = (ask(text), answer(text));
        assert!(u.has(Intent::Unknown), "{text}: {:?}", u.intents);
        assert!(reply.needs_llm && reply.handoff.is_none());
        assert_eq!(reply.route, Route::Unanswered);
        assert_eq!(reply.text, ROUTER.template(language, "fallback", &[]));
    }
}

#[test]
fn route_labels_for_metrics_are_stable() {
    let labels: Vec<&str> = Route::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        labels,
        [
            "fast_price",
            "fast_price_list",
            "fast_hours",
            "fast_address",
            "fast_greeting",
            "fast_thanks",
            "fast_booking",
            "fast_human",
            "fast_emergency",
            "unanswered"
        ]
    );
}

#[test]
fn what_a_patient_asked_for_is_not_shown_in_debug_output() {
    let shown = format!(
        "{:?}",
        PriceMatch::NotOffered("лечение чего-то личного".into())
    );
    assert!(!shown.contains("лечение"), "{shown}");
}

#[test]
fn odd_inputs_never_panic_and_always_get_a_reply_to_send() {
    let long = "пломба ".repeat(3000);
    for text in [
        "",
        "   ",
        "🦷🦷🦷",
        "{price} {service}",
        "مرحبا كم السعر",
        "cu\u{301}anto cuesta",
        "a\u{200d}b\u{200b}c",
        "ПЛОМБА!!!???",
        "123 456 789",
        long.as_str(),
    ] {
        let reply = answer(text);
        assert!(!reply.text.trim().is_empty(), "{text:?}");
        assert!(
            !reply.text.contains('{'),
            "no template placeholder is left: {text:?}"
        );
    }
}

fn is_urgent(text: &str) -> bool {
    let reply = answer(text);
    reply.route == Route::Emergency && reply.handoff.is_some_and(|h| h.urgent)
}

#[test]
fn pain_and_infection_in_everyday_words_are_urgent() {
    for text in [
        "очень больно, зуб раскололся",
        "из десны идёт гной",
        "щеку раздуло",
        "десна распухла и дергает",
        "болит зуб, не могу спать",
        "I have a toothache",
        "my tooth hurts so much",
        "the pain is killing me",
        "I think I have an infection",
        "abscess on my gum",
        "me duele muchísimo la muela",
        "dolor de muelas terrible",
        "после удаления зуба вчера до сих пор кровит",
        "mi hijo se cayo y se le salio un diente",
        "ночью разболелся зуб таблетки не помогают",
        "tengo un flemon enorme y no puedo abrir la boca",
        "mi niño se golpeo la boca y tiene el diente metido en la encia",
    ] {
        assert!(is_urgent(text), "{text}: {:?}", answer(text));
    }
}

fn assert_pages_no_one(text: &str) {
    let reply = answer(text);
    assert!(reply.handoff.is_none_or(|h| !h.urgent), "{text}: {reply:?}");
    assert_ne!(reply.route, Route::Emergency, "{text}: {reply:?}");
}

#[test]
fn pain_that_is_over_or_a_word_that_only_looks_like_one_pages_no_one() {
    for text in [
        "my tooth doesnt hurt anymore, how much is a checkup",
        "my tooth does not hurt",
        "ya no me duele la muela, cuanto cuesta la revision",
        // "pusieron" (they put) stems like "pus".
        "me pusieron una corona la semana pasada y se cayo",
        "tooth used to hurt when drinking cold but its fine now",
        // A baby tooth falling out is normal.
        "у ребенка выпал молочный зуб это нормально?",
    ] {
        assert_pages_no_one(text);
    }
}

#[test]
fn not_urgent_pages_no_one_but_a_no_beside_an_emergency_does_not_undo_it() {
    for text in [
        "Не срочно, но хотелось бы узнать цену чистки",
        "not urgent, how much is a cleaning",
        "No es urgente, ¿cuánto cuesta una limpieza?",
        "I have never had a cleaning, how much is it?",
        "Is there a risk of infection after an implant?",
        "How much does toothache treatment cost?",
    ] {
        assert_pages_no_one(text);
    }
    for text in [
        "нет, не могу дышать",
        "No, no puedo respirar",
        "не останавливается кровотечение",
        "уже не могу, адская боль",
        "нет, очень болит",
        "not good, bleeding a lot",
        "нужна скорая?",
        "не могу открыть рот",
    ] {
        assert!(is_urgent(text), "{text}: {:?}", answer(text));
    }
    // A negation before a booking phrase undoes it; before a call request it does not.
    let reply = answer("Не хочу записываться, просто узнать цену на пломбу");
    assert_ne!(reply.route, Route::Booking, "{reply:?}");
    assert_eq!(answer("Почему мне не перезвонили?").route, Route::Human);
}

#[test]
fn a_service_named_beside_news_thanks_or_a_worry_is_not_answered_with_its_price() {
    for text in [
        "У меня выпала пломба",
        "Lost a filling",
        "коронка сломалась",
        "Коронка готова?",
        "Больно ли отбеливание?",
        "Is whitening painful?",
        "my gums hurt",
        "I think I need a root canal",
        "Hi, insurance?",
        "Здравствуйте, парковка?",
        "hey, is it painful?",
        "спасибо, но это дорого",
        "Tengo una consulta",
        "Hola, una consulta",
    ] {
        let reply = answer(text);
        assert!(
            reply.needs_llm && reply.route != Route::Price,
            "{text}: {reply:?}"
        );
    }
    // A courtesy with one word beside it is still the courtesy.
    for (text, route) in [
        ("ok thanks", Route::Thanks),
        ("Спасибо, до свидания", Route::Thanks),
        ("ok gracias", Route::Thanks),
        ("Hola doctor", Route::Greeting),
        ("Здраствуйте", Route::Greeting),
        ("Спосибо", Route::Thanks),
        // Stretched letters, as chat types them.
        ("Graciasss!!", Route::Thanks),
        ("спасибооо", Route::Thanks),
        ("holaaa", Route::Greeting),
        ("приииивет", Route::Greeting),
    ] {
        assert_eq!(answer(text).route, route, "{text}");
    }
    // Thanks for a service is thanks.
    for text in [
        "Спасибо за чистку!",
        "Thanks for the cleaning!",
        "Gracias por la limpieza",
    ] {
        assert_eq!(answer(text).route, Route::Thanks, "{text}");
    }
    // A bare service (with stopwords at most) is still a price question.
    for text in [
        "чистка зубов?",
        "а пломба?",
        "veneers?",
        "¿cuánto cuesta una consulta?",
    ] {
        assert_eq!(answer(text).route, Route::Price, "{text}");
    }
}

#[test]
fn cancelling_or_running_late_is_not_taken_for_a_new_booking() {
    for text in [
        "Хочу отменить запись",
        "опаздываю на прием на 10 минут",
        "I need to cancel my appointment",
        "I'm running late",
        "Quiero cancelar mi cita",
        "cancelar la cita de mañana por favor",
        "anular la cita por favor",
        "no voy a poder ir a la cita de mañana, la cancelo",
        "Llego tarde a mi cita",
        "I'm running late for my appointment",
        "What time is my appointment tomorrow?",
        "Во сколько у меня прием завтра?",
        "I have an appointment tomorrow, what's your address?",
        "can i bring my kid to my appointment",
        "please cancel my booking for friday",
    ] {
        let reply = answer(text);
        assert_ne!(reply.route, Route::Booking, "{text}: {reply:?}");
        assert!(reply.needs_llm, "{text}: {reply:?}");
    }
    // Wanting to schedule is booking, and "open" in a sentence is no hours question.
    for text in [
        "I'd like to schedule a cleaning",
        "I'd like to book an appointment",
        "can I book my appointment for friday",
    ] {
        assert_eq!(answer(text).route, Route::Booking, "{text}");
    }
    assert_ne!(answer("it hurts when I open my mouth").route, Route::Hours);
    for text in [
        "Open Sunday?",
        "is the clinic open on monday?",
        "open tomorrow?",
    ] {
        assert_eq!(answer(text).route, Route::Hours, "{text}");
    }
    for text in [
        "во сколько вы работаете в субботу",
        "Во сколько обойдется пломба?",
    ] {
        assert!(!answer(text).needs_llm, "{text}: {:?}", answer(text));
    }
}

#[test]
fn asking_for_the_phone_number_gets_the_address_and_phone() {
    for text in [
        "What's your phone number?",
        "Подскажите номер телефона",
        "¿Cuál es su número de teléfono?",
    ] {
        let reply = answer(text);
        assert_eq!(reply.route, Route::Address, "{text}: {reply:?}");
        assert!(reply.text.contains("+7 495 123-45-67"), "{text}: {reply:?}");
    }
    // "how to find a doctor" is no address question.
    assert_ne!(answer("Как найти врача Иванову?").route, Route::Address);
}
