//! Questions several services fit: which one is meant, and when the patient is asked to pick
//! (equal fits, kinds of one another, a partial name beside a whole one, services joined by
//! "and").

use super::support::*;
use crate::router::PriceMatch;

#[test]
fn of_two_names_matched_whole_the_kind_of_the_other_wins() {
    // "отбеливание зубов" (Zoom) and "домашнее отбеливание" (home) both stand whole, and home
    // whitening is a kind of whitening. Nor is "зубов" a variant of it the list lacks.
    for text in [
        "сколько стоит домашнее отбеливание зубов",
        "how much is home teeth whitening",
        "cuanto cuesta un blanqueamiento dental en casa",
    ] {
        assert_eq!(
            ask(text).price,
            PriceMatch::One("HYG-WHITE-HOME".into()),
            "{text}"
        );
    }
}

#[test]
fn of_two_names_matched_whole_neither_a_kind_of_the_other_both_are_offered() {
    assert_eq!(
        ask("сколько стоит снимок зуба мудрости").price,
        PriceMatch::Ambiguous(vec!["DIAG-XRAY".into(), "SURG-WISDOM".into()])
    );
}

#[test]
fn services_sharing_an_alias_are_listed_rather_than_guessed() {
    let implants = PriceMatch::Ambiguous(vec!["IMPL-OSSTEM".into(), "IMPL-STRAUMANN".into()]);
    assert_eq!(ask("имплант цена").price, implants);
    assert_eq!(ask("¿Cuánto cuesta un implante?").price, implants);
}

#[test]
fn a_name_fitting_only_in_part_beside_another_service_named_whole_is_asked_about() {
    assert_eq!(
        ask("how much is full mouth cleaning").price,
        PriceMatch::Ambiguous(vec!["DIAG-OPTG".into(), "HYG-CLEAN".into()])
    );
    // Unless the whole name is among the words the partial match used.
    assert_eq!(
        ask("имплант штрауман сколько стоит").price,
        PriceMatch::One("IMPL-STRAUMANN".into())
    );
}

#[test]
fn a_kind_of_a_service_named_by_its_own_word_beats_the_general_one() {
    // Each fits the simple extraction ("удалить зуб", "pull a tooth", "sacar una muela") as
    // well as the wisdom tooth, whose name holds "удаление зуба", "tooth extraction".
    for text in [
        "сколько стоит удалить зуб мудрости",
        "вырвать зуб мудрости цена",
        "how much to pull a wisdom tooth",
        "cuanto cuesta sacar una muela del juicio",
    ] {
        assert_eq!(
            ask(text).price,
            PriceMatch::One("SURG-WISDOM".into()),
            "{text}"
        );
    }
    // Nor is the general service's own word a variant of the kind: "удалить" is a word of
    // the simple extraction.
    assert_eq!(
        ask("сколько стоит удалить восьмерку").price,
        PriceMatch::One("SURG-WISDOM".into())
    );
    // A kind named by no word of its own is not meant: "radiografía de todos los dientes"
    // (panoramic) fits as well as "Radiografía dental (un diente)".
    assert_eq!(
        ask("cuanto cuesta la radiografia de un diente").price,
        PriceMatch::One("DIAG-XRAY".into())
    );
    // The panoramic X-ray's "панорамный снимок" holds the single one's "снимок".
    assert_eq!(
        ask("сколько стоит рентген всей челюсти").price,
        PriceMatch::One("DIAG-OPTG".into())
    );
    // Kinds of each other (two implants share "имплант") are both listed, and so is what a
    // message joins with "or".
    assert_eq!(
        ask("имплант цена").price,
        PriceMatch::Ambiguous(vec!["IMPL-OSSTEM".into(), "IMPL-STRAUMANN".into()])
    );
    assert_eq!(
        ask("сколько стоит коронка металлокерамическая или циркониевая").price,
        PriceMatch::Ambiguous(vec!["PROS-CROWN-MC".into(), "PROS-CROWN-ZR".into()])
    );
}

#[test]
fn a_question_joining_services_gets_each_of_them() {
    assert_eq!(
        ask("how much is a crown and do i need a root canal first").price,
        PriceMatch::Several(vec!["THER-ENDO".into(), "PROS-CROWN-MC".into()])
    );
    let text = "синус лифтинг и имплант сколько вместе выйдет";
    assert_eq!(
        ask(text).price,
        PriceMatch::Several(vec![
            "SURG-SINUS".into(),
            "IMPL-OSSTEM".into(),
            "IMPL-STRAUMANN".into()
        ])
    );
    // Tied services named by different words are each asked about too; two fillings sharing
    // "filling" are listed with the crown.
    assert_eq!(
        ask("price for whitening plus airflow?").price,
        PriceMatch::Several(vec!["HYG-AIRFLOW".into(), "HYG-WHITE".into()])
    );
    assert_eq!(
        ask("how much for a filling and a crown").price,
        PriceMatch::Several(vec![
            "THER-FILL-LC".into(),
            "THER-FILL-CEM".into(),
            "PROS-CROWN-MC".into()
        ])
    );
    // Listed as what was asked, not as a choice.
    assert_eq!(
        plain(&answer(text).text),
        "Наши цены:\n• Синус-лифтинг — 35 000 ₽\n• Имплантация Osstem (Корея) — 45 000 ₽\n\
         • Имплантация Straumann (Швейцария) — 85 000 ₽"
    );
}
