//! Price questions: natural phrasings and typos in three languages, ambiguity, services the
//! clinic does not offer, bare service names. The whole list is in `price_list.rs`.

use super::support::*;
use crate::domain::service::Service;
use crate::router::{Intent, PriceMatch, Route, Router};

fn assert_lists_both_fillings(text: &str, light: &str, cement: &str) {
    let reply = answer(text);
    assert_eq!(ask(text).price, both_fillings(), "{text}");
    assert_eq!(ask(text).intents, vec![Intent::Price], "{text}");
    assert_eq!(reply.route, Route::Price, "{text}");
    assert!(!reply.needs_llm);
    let shown = plain(&reply.text);
    assert!(
        shown.contains(light) && shown.contains(cement),
        "{text}: {shown}"
    );
}

#[test]
fn every_russian_way_of_asking_for_a_filling_lists_both_fillings_with_prices() {
    for text in [
        "Сколько стоит пломба?",
        "пломбу поставить сколько?",
        "цена на пломбы",
        "сколько стоит пломбы",
        "сколко стоит пломаб",
        "сколькоооо стоит пломбаааа??",
    ] {
        assert_lists_both_fillings(
            text,
            "Пломба световая — 4 500 ₽",
            "Пломба цементная — 2 500 ₽",
        );
    }
}

#[test]
fn english_and_spanish_filling_questions_with_typos_list_both_fillings() {
    for text in [
        "how much is a filling",
        "how much is a filing",
        "how mutch is a filling",
    ] {
        assert_lists_both_fillings(text, "4,500 ₽", "2,500 ₽");
    }
    for text in [
        "precio de un empaste",
        "cuanto questa un empaste",
        "precio de un empastte",
    ] {
        assert_lists_both_fillings(text, "4.500 ₽", "2.500 ₽");
    }
}

#[test]
fn cleaning_is_found_by_its_names_in_three_languages_and_with_typos() {
    for (text, price) in [
        (
            "почём чистка зубов",
            "Профессиональная чистка зубов — 5 500 ₽.",
        ),
        ("сколко стоит чистка зубов", "5 500 ₽"),
        (
            "how much does teeth cleaning cost",
            "Professional teeth cleaning: 5,500 ₽.",
        ),
        (
            "¿cuánto cuesta una limpieza?",
            "Limpieza dental profesional: 5.500 ₽.",
        ),
        ("cuanto questa una limpiesa", "5.500 ₽"),
    ] {
        let u = ask(text);
        assert_eq!(u.price, PriceMatch::One("HYG-CLEAN".into()), "{text}");
        assert_eq!(u.intents, vec![Intent::Price], "{text}");
        assert!(plain(&answer(text).text).contains(price), "{text}");
    }
}

#[test]
fn a_crown_question_names_the_crown_its_aliases_point_to() {
    for text in [
        "price of a crown",
        "prise of a crown",
        "сколько стоит коронка",
        "coronas precio",
    ] {
        assert_eq!(
            ask(text).price,
            PriceMatch::One("PROS-CROWN-MC".into()),
            "{text}"
        );
    }
    assert!(plain(&answer("price of a crown").text).contains("14,000 ₽"));
}

#[test]
fn a_price_reply_for_one_service_gives_the_price_and_invites_to_book() {
    let reply = answer("почём чистка зубов");
    assert_eq!(
        plain(&reply.text),
        "Профессиональная чистка зубов — 5 500 ₽. Хотите записаться?"
    );
    assert_eq!(reply.handoff, None);
}

#[test]
fn with_only_one_filling_on_the_list_the_filling_question_is_answered_directly() {
    let services: Vec<Service> = demo_services()
        .into_iter()
        .filter(|s| s.code != "THER-FILL-CEM")
        .collect();
    let prices = ROUTER.index_prices(&services);
    let u = ROUTER.understand("Сколько стоит пломба?", None, "ru", &prices);
    assert_eq!(u.price, PriceMatch::One("THER-FILL-LC".into()));
}

#[test]
fn a_service_named_whole_is_found_beside_words_that_fit_its_longer_name_only_in_part() {
    // "radiografía" is an alias; "radiografía … dientes" fits two words of the Spanish name
    // "Radiografía dental (un diente)", and "todos" none: still the X-ray, not "not offered".
    let services = parse_price_csv(
        "code,name,price,currency,aliases,name_en,name_es\n\
         XRAY,Прицельный снимок,500,RUB,снимок|radiografía,Dental X-ray,Radiografía dental (un diente)\n\
         OPTG,Панорамный снимок,1800,RUB,панорама|radiografía panorámica,Panoramic X-ray,Radiografía panorámica\n",
    );
    let prices = ROUTER.index_prices(&services);
    let u = ROUTER.understand(
        "¿cuánto cuesta una radiografía de todos los dientes?",
        None,
        "ru",
        &prices,
    );
    assert_eq!(u.price, PriceMatch::One("XRAY".into()));
    assert_eq!(u.language, "es");
}

#[test]
fn slang_for_how_much_and_everyday_names_in_the_demo_list_find_the_service() {
    for (text, id) in [
        ("скок стоит почистить зубы", "HYG-CLEAN"),
        ("а нерв удалить скока", "THER-ENDO"),
        ("how much to get my wisdom teeth out", "SURG-WISDOM"),
        ("how much for a panoramic xray", "DIAG-OPTG"),
        ("осмотр у вас платный?", "DIAG-CONS"),
        ("¿la consulta es gratis?", "DIAG-CONS"),
    ] {
        assert_eq!(ask(text).price, PriceMatch::One(id.into()), "{text}");
        assert_eq!(ask(text).intents, vec![Intent::Price], "{text}");
    }
    // "ставить" is one of the words a negation reaches across, like "поставить".
    assert_eq!(
        ask("не ставить коронку а сделать вкладку - сколько выйдет").price,
        PriceMatch::One("PROS-INLAY".into())
    );
}

#[test]
fn an_x_ray_of_all_teeth_is_the_panoramic_one_in_the_demo_list() {
    for text in [
        "сколько стоит снимок всех зубов",
        "how much is an x-ray of all teeth",
        "cuánto cuesta una radiografía de todos los dientes",
    ] {
        assert_eq!(
            ask(text).price,
            PriceMatch::One("DIAG-OPTG".into()),
            "{text}"
        );
    }
    assert_eq!(
        ask("сколько стоит снимок зуба").price,
        PriceMatch::One("DIAG-XRAY".into())
    );
}

#[test]
fn naming_the_kind_of_filling_picks_that_filling() {
    assert_eq!(
        ask("световая пломба").price,
        PriceMatch::One("THER-FILL-LC".into())
    );
    assert_eq!(
        ask("сколько стоит цементная пломба").price,
        PriceMatch::One("THER-FILL-CEM".into())
    );
    assert_eq!(
        ask("cement filling price").price,
        PriceMatch::One("THER-FILL-CEM".into())
    );
}

#[test]
fn the_service_matching_more_of_the_question_wins() {
    for (text, id) in [
        ("сколько стоит удаление зуба мудрости", "SURG-WISDOM"),
        (
            "what is the price for wisdom tooth extraction",
            "SURG-WISDOM",
        ),
        (
            "Cuánto cuesta la extracción de una muela del juicio",
            "SURG-WISDOM",
        ),
        ("сколько стоит удалить зуб", "SURG-EXTR"),
        ("стоимость имплантации штрауман", "IMPL-STRAUMANN"),
        ("А КТ сколько стоит?", "DIAG-CT"),
        ("x-ray price", "DIAG-XRAY"),
    ] {
        assert_eq!(ask(text).price, PriceMatch::One(id.into()), "{text}");
    }
}

#[test]
fn a_service_the_clinic_does_not_offer_is_said_so_without_any_price() {
    let u = ask("сколько стоит пересадка волос");
    assert_eq!(u.price, PriceMatch::NotOffered("пересадка волос".into()));
    let reply = answer("сколько стоит пересадка волос");
    assert_eq!(reply.route, Route::Price);
    assert!(reply.text.contains("«пересадка волос»"), "{}", reply.text);
    assert!(reply.text.contains("прайс") && reply.text.contains("администратор"));
    assert!(!reply.text.contains('₽'));
}

#[test]
fn an_unknown_service_is_not_replaced_by_one_sharing_a_word_with_it() {
    assert_eq!(
        ask("сколько стоит удаление татуировки").price,
        PriceMatch::NotOffered("удаление татуировки".into())
    );
    assert_eq!(
        ask("how much is tooth jewelry").price,
        PriceMatch::NotOffered("tooth jewelry".into())
    );
}

#[test]
fn a_bare_service_name_counts_as_a_price_question() {
    let u = ask("чистка зубов?");
    assert_eq!(u.intents, vec![Intent::Price]);
    assert_eq!(u.price, PriceMatch::One("HYG-CLEAN".into()));
    assert_eq!(
        ask("How much are veneers?").price,
        PriceMatch::One("PROS-VENEER".into())
    );
}

#[test]
fn how_long_or_how_often_about_a_service_is_not_answered_with_its_price() {
    for text in [
        "Сколько длится чистка зубов?",
        "сколько по времени чистка зубов",
        "как долго держится пломба",
        "Сколько раз нужно приходить на чистку?",
        "через сколько можно есть после пломбы",
        "how long is a cleaning",
        "how long does a filling take",
        "how many visits for a crown",
        "¿Cuánto dura una limpieza?",
        "cuántas sesiones de limpieza necesito",
        "cuanto tiempo dura el empaste",
    ] {
        let u = ask(text);
        assert_eq!(u.primary(), Intent::Unknown, "{text}: {:?}", u.intents);
        let reply = answer(text);
        assert!(reply.needs_llm, "{text}: {}", reply.text);
        assert!(!plain(&reply.text).contains('₽'), "{text}: {}", reply.text);
    }
    // Asked together with the price, it still goes to the LLM, which can answer both.
    assert!(answer("сколько стоит чистка зубов и сколько она длится").needs_llm);
    // The price questions these phrasings resemble are answered as before.
    for text in [
        "сколько стоит чистка зубов",
        "how much is a cleaning",
        "cuánto cuesta una limpieza",
    ] {
        assert_eq!(ask(text).intents, vec![Intent::Price], "{text}");
    }
}

#[test]
fn why_is_no_how_much() {
    // "почему" stems and spells like "почём": it made "Почему вы не отвечаете?" a price
    // question for a service called "отвечаете".
    for text in [
        "Почему вы не отвечаете?",
        "Почему у вас закрыто в воскресенье?",
    ] {
        let reply = answer(text);
        assert_eq!(ask(text).primary(), Intent::Unknown, "{text}");
        assert!(reply.needs_llm, "{text}: {}", reply.text);
    }
    assert_eq!(
        ask("почём чистка зубов").price,
        PriceMatch::One("HYG-CLEAN".into())
    );
}

#[test]
fn whether_a_price_includes_something_is_left_to_staff_or_the_llm() {
    // The list has prices, not what each one covers: these got a price, a pick-one list or
    // "«включает анестезию» is not on our list".
    for text in [
        "цена включает анестезию?",
        "а рентген входит в стоимость консультации?",
        "does the price include the crown?",
        "is the xray included in the consultation price",
        "¿el precio incluye la anestesia?",
    ] {
        let reply = answer(text);
        assert!(reply.needs_llm, "{text}: {}", reply.text);
        assert!(!plain(&reply.text).contains('₽'), "{text}: {}", reply.text);
    }
}

#[test]
fn a_false_friend_is_no_typo_of_a_service() {
    // "floor" is one letter from "fluor": "which floor are you on" got the fluoride price.
    for text in ["i'm here, which floor are you on", "what floor"] {
        assert!(answer(text).needs_llm, "{text}");
    }
    assert_eq!(ask("how much is fluoride").intents, vec![Intent::Price]);
    // "local" is one letter from "locat(ed)": the anaesthetic's price came with the address.
    assert_eq!(
        ask("how much does local anaesthetic cost").intents,
        vec![Intent::Price]
    );
}

#[test]
fn a_price_question_without_a_service_asks_which_and_offers_the_list() {
    for text in ["Сколько стоит?", "сколько стоит зуб"] {
        let u = ask(text);
        assert_eq!(
            (u.intents.as_slice(), &u.price),
            (&[Intent::Price][..], &PriceMatch::None)
        );
        let reply = answer(text);
        assert!(reply.text.contains("какая услуга") && reply.text.contains("прайс"));
        assert!(!reply.needs_llm);
    }
}

#[test]
fn asking_the_prices_of_one_service_answers_that_service_not_the_whole_list() {
    let u = ask("какие цены на пломбы");
    assert_eq!((u.intents, u.price), (vec![Intent::Price], both_fillings()));
}

#[test]
fn kopecks_are_shown_only_for_prices_that_have_them() {
    assert!(plain(&answer("сколько стоит анестезия").text).contains("850,50 ₽"));
    assert!(plain(&answer("сколько стоит консультация").text).contains("1 000 ₽."));
}

#[test]
fn an_empty_price_list_sends_price_questions_to_the_llm() {
    let empty = Router::builtin().index_prices(&[]);
    let u = ROUTER.understand("Сколько стоит?", None, "ru", &empty);
    let reply = ROUTER.reply(&u, &clinic(), &empty, moscow(25, 12, 0));
    assert!(reply.needs_llm);
    assert_eq!(reply.route, Route::Unanswered);
}

#[test]
fn the_demo_price_list_is_realistic_and_makes_filling_ambiguous() {
    let services = demo_services();
    assert!((25..=40).contains(&services.len()));
    let mut codes: Vec<&str> = services.iter().map(|s| s.code.as_str()).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), services.len(), "codes are unique");
    assert!(
        services
            .iter()
            .all(|s| s.currency == "RUB" && s.price_minor > 0)
    );
    let fillings = services
        .iter()
        .filter(|s| s.aliases.iter().any(|a| a == "пломба"));
    assert_eq!(fillings.count(), 2);
}

#[test]
fn a_long_message_saying_more_than_a_price_question_goes_to_the_llm() {
    let text = "сколько стоит поставить пломбу ребенку пяти лет после падения с велосипеда";
    assert!(ask(text).has(Intent::Unknown));
    assert!(answer(text).needs_llm);
}

#[test]
fn the_price_index_tells_a_services_name_and_price() {
    assert_eq!(PRICES.len(), demo_services().len());
    assert_eq!(
        PRICES.service("THER-ANES"),
        Some(("Анестезия карпульная", 85050, "RUB"))
    );
    assert_eq!(PRICES.service("nope"), None);
}

#[test]
fn the_router_and_price_index_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Router>();
    shareable::<crate::router::PriceIndex>();
}

#[test]
fn the_llms_price_lookup_of_a_bare_name_finds_it_or_says_what_is_missing() {
    let lookup = |text: &str| {
        ROUTER
            .understand_price_query(text, None, "ru", &PRICES)
            .price
    };
    assert_eq!(
        lookup("пломба световая"),
        PriceMatch::One("THER-FILL-LC".into())
    );
    assert_eq!(lookup("пломба"), both_fillings());
    assert_eq!(
        lookup("керамические брекеты"),
        PriceMatch::Nearest("ORTHO-BRACES".into(), "керамические брекеты".into())
    );
    assert_eq!(
        lookup("удаление татуировки"),
        PriceMatch::NotOffered("удаление татуировки".into())
    );
}
