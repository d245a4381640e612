//! A variant the price list does not name ("керамические брекеты") is said so, with the closest
//! service; words that only say who it is for or where in the mouth, or repeat the service's
//! own names, are no variant.

use super::support::*;
use crate::router::PriceMatch;

#[test]
fn a_variant_the_list_does_not_name_is_said_so_with_the_closest_service() {
    for (text, id, asked, shown) in [
        (
            "сколько стоят керамические брекеты",
            "ORTHO-BRACES",
            "керамические брекеты",
            "«керамические брекеты» в нашем прайсе нет. Ближе всего: Брекет-система металлическая (одна челюсть) — 45 000 ₽.",
        ),
        (
            "сколько стоит общая анестезия",
            "THER-ANES",
            "общая анестезия",
            "850,50 ₽",
        ),
        (
            "how much is a deep cleaning",
            "HYG-CLEAN",
            "deep cleaning",
            "We don't list \"deep cleaning\". The closest we have: Professional teeth cleaning: 5,500 ₽.",
        ),
    ] {
        assert_eq!(
            ask(text).price,
            PriceMatch::Nearest(id.into(), asked.into()),
            "{text}"
        );
        let reply = plain(&answer(text).text);
        assert!(reply.contains(shown), "{text}: {reply}");
    }
    // Part of one service's name, by a word only it has, beside a word the list does not
    // know: that service is the closest, where "not on our list" alone would mislead.
    assert_eq!(
        ask("сколько стоит расширение каналов").price,
        PriceMatch::Nearest("THER-ENDO".into(), "расширение каналов".into())
    );
    // Not when the unknown word stands apart: "remove" fits "removable denture" in part, and
    // a tattoo is no kind of denture.
    let dentures = ROUTER.index_prices(&parse_price_csv(
        "code,name,price,currency,aliases\nDENT,Full removable denture,35000,RUB,removable denture\n",
    ));
    let u = ROUTER.understand("how much to remove a tattoo", None, "en", &dentures);
    assert!(matches!(u.price, PriceMatch::NotOffered(_)), "{u:?}");
    assert!(matches!(
        ask("сколько стоит удаление татуировки").price,
        PriceMatch::NotOffered(_)
    ));
    // A word that stands apart from the service, or beside a word many services share, is
    // no variant of it.
    assert_eq!(
        ask("сколько стоит чистка зубов в субботу").price,
        PriceMatch::One("HYG-CLEAN".into())
    );
    assert_eq!(
        ask("У ребенка болит зуб, сколько стоит лечение молочного зуба?").price,
        PriceMatch::One("KIDS-MILK".into())
    );
}

#[test]
fn a_word_of_another_of_the_services_names_or_a_single_letter_makes_no_variant_of_it() {
    for (text, id) in [
        ("сколько стоит лечение пародонтита", "PERIO-CURETTAGE"),
        ("cost of a dental checkup", "DIAG-CONS"),
        ("how much r braces for one jaw", "ORTHO-BRACES"),
    ] {
        assert_eq!(ask(text).price, PriceMatch::One(id.into()), "{text}");
    }
}

#[test]
fn who_it_is_for_where_how_big_or_a_filler_word_makes_no_variant() {
    for (text, id) in [
        ("сколько стоит фторирование детям", "KIDS-FLUOR"),
        ("сколько стоит герметизация фиссур ребенку", "KIDS-SEAL"),
        ("реставрация переднего зуба сколько", "THER-RESTO"),
        ("how much is fluoride for my son", "KIDS-FLUOR"),
        ("¿cuánto cuesta el flúor para mi hijo?", "KIDS-FLUOR"),
        (
            "мне не нужна консультация, сразу удалить зуб сколько",
            "SURG-EXTR",
        ),
        ("консультация перед удалением сколько стоит", "DIAG-CONS"),
        (
            "мне бы зуб вылечить там кариес небольшой сколько это будет",
            "THER-CARIES",
        ),
        (
            "в прошлом году делала чистку у вас, сколько сейчас стоит",
            "HYG-CLEAN",
        ),
        ("а эйр флоу отдельно сколько", "HYG-AIRFLOW"),
        ("no quiero empaste solo limpieza cuanto sale", "HYG-CLEAN"),
        (
            "сколько стоит консультация у ортодонта взрослому",
            "DIAG-ORTHO",
        ),
        ("сколько будет стоить лечение трех каналов", "THER-ENDO"),
        (
            "сколько стоит лечение каналов если у зуба три канала",
            "THER-ENDO",
        ),
        (
            "здравствуйте я по поводу брекетов сколько стоят",
            "ORTHO-BRACES",
        ),
        ("me ponen anestesia? cuanto cobran por ella", "THER-ANES"),
        ("how much to treat cavities on 2 teeth", "THER-CARIES"),
        ("my daughter needs braces what do they cost", "ORTHO-BRACES"),
        ("do you make night guards? how much", "ORTHO-GUARD"),
        ("cuanto cuesta ponerse carillas", "PROS-VENEER"),
    ] {
        assert_eq!(ask(text).price, PriceMatch::One(id.into()), "{text}");
    }
    assert_eq!(
        ask("сколько стоят керамические брекеты ребенку").price,
        PriceMatch::Nearest("ORTHO-BRACES".into(), "керамические брекеты".into()),
        "a word naming a kind of the service still does beside one of these"
    );
}

#[test]
fn a_word_a_few_other_services_share_still_names_a_kind() {
    // "ceramic" is a word of the veneer, the inlay and the metal-ceramic crown; "teeth" of
    // too many services to name a kind of any.
    for (text, asked) in [
        ("how much are ceramic braces", "ceramic braces"),
        (
            "¿cuánto cuestan los brackets cerámicos?",
            "brackets ceramicos",
        ),
    ] {
        assert_eq!(
            ask(text).price,
            PriceMatch::Nearest("ORTHO-BRACES".into(), asked.into()),
            "{text}"
        );
    }
    assert_eq!(
        ask("сколько стоит домашнее отбеливание зубов").price,
        PriceMatch::One("HYG-WHITE-HOME".into())
    );
}
