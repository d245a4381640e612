//! Services the patient says they do not want ("не нужна пломба, сколько стоит чистка?"): left
//! out of the price answer, within the clause the negation stands in.

use super::support::*;
use crate::router::{Intent, PriceMatch};

#[test]
fn a_service_the_patient_says_they_do_not_want_is_not_priced_beside_the_one_they_ask() {
    let cleaning = || PriceMatch::One("HYG-CLEAN".into());
    for text in [
        "не нужна пломба, сколько стоит чистка?",
        "пломбу не надо, а чистка сколько?",
        "мне не отбеливание, а чистку, сколько стоит?",
        "чистка не отбеливание сколько стоит",
        "how much is a cleaning, not whitening",
        "I don't want whitening, how much is cleaning",
        "no quiero blanqueamiento, cuánto cuesta la limpieza",
        "cuánto cuesta una limpieza sin blanqueamiento",
        "отбеливание не нужно, сколько стоит чистка?",
    ] {
        assert_eq!(ask(text).price, cleaning(), "{text}");
        assert_eq!(ask(text).intents, vec![Intent::Price], "{text}");
    }
    for text in [
        "без анестезии сколько стоит пломба?",
        "how much is a filling without anaesthesia",
        "сколько стоит пломба? коронку не надо",
    ] {
        assert_eq!(ask(text).price, both_fillings(), "{text}");
    }
    assert_eq!(
        ask("я не хочу пломбу, хочу вкладку, сколько стоит?").price,
        PriceMatch::One("PROS-INLAY".into())
    );
    assert_eq!(
        ask("How much is the consultation? I don't need an x-ray").price,
        PriceMatch::One("DIAG-CONS".into())
    );
    let reply = plain(&answer("сколько стоит пломба без анестезии").text);
    assert!(reply.contains("Пломба цементная"), "{reply}");
    assert!(!reply.contains("Анестезия"), "{reply}");
}

#[test]
fn a_negation_does_not_reach_across_a_clause_mark_and_prices_nothing_it_takes_back() {
    // "No, a cleaning": the patient answers no and then names what they want.
    assert_eq!(
        ask("No, a cleaning. How much is whitening?").price,
        PriceMatch::Ambiguous(vec!["HYG-CLEAN".into(), "HYG-WHITE".into()])
    );
    // A negation reaches the service only across stopwords: having never had one is no
    // refusal.
    for text in [
        "I have never had a cleaning, how much is it?",
        "никогда не делал чистку, сколько стоит?",
    ] {
        assert_eq!(
            ask(text).price,
            PriceMatch::One("HYG-CLEAN".into()),
            "{text}"
        );
    }
    // A price question naming only what the patient does not want asks which service.
    for text in [
        "сколько стоит без анестезии?",
        "¿Cuánto cuesta sin anestesia?",
    ] {
        assert_eq!(ask(text).price, PriceMatch::None, "{text}");
        assert_eq!(ask(text).intents, vec![Intent::Price], "{text}");
    }
    assert!(
        plain(&answer("сколько стоит без анестезии?").text)
            .starts_with("Подскажите, пожалуйста, какая услуга вас интересует?")
    );
}
