//! The price-list CSV: `code,name,price,currency,aliases` with a header row, UTF-8, aliases
//! separated by `|`, price in major units ("4500" or "4500.50"). Optional further columns
//! `name_<lang>` (`name_en`, `name_es`, …) give the name patients writing in that language read;
//! an empty cell means "use `name`". Every row is checked; the first problems are reported
//! with their line numbers and then nothing is imported.

use crate::db::prices::NewService;
use crate::domain::money::parse_major_units;
use std::collections::{BTreeMap, HashSet};

pub const HEADER: [&str; 5] = ["code", "name", "price", "currency", "aliases"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PriceListError {
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    #[error(
        "line 1: the header must be `code,name,price,currency,aliases`, optionally followed by \
         `name_<language>` columns such as `name_en`; found `{0}`"
    )]
    Header(String),
    #[error("the file has no services; importing it would empty the price list")]
    Empty,
    #[error("{}", .0.join("\n"))]
    Rows(Vec<String>),
}

/// Parses and validates a whole price list. Returns every service, or every bad row (up to
/// 20) as "line N: problem".
pub fn parse(bytes: &[u8]) -> Result<Vec<NewService>, PriceListError> {
    let text = std::str::from_utf8(bytes).map_err(|_| PriceListError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text); // Excel's BOM
    // Windows line ends: the csv reader would count "\r\n" as two lines in its positions.
    let text = text.replace("\r\n", "\n");
    // Excel in locales with a decimal comma (Russian, Spanish) saves with semicolons.
    let header_line = text.lines().next().unwrap_or_default();
    let delimiter = if header_line.contains(';') && !header_line.contains(',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        _ => return Err(PriceListError::Header(String::new())),
    };
    let columns: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
    let translations = translation_columns(&columns)
        .ok_or_else(|| PriceListError::Header(header.iter().collect::<Vec<_>>().join(",")))?;
    let (mut services, mut problems, mut codes) = (Vec::new(), Vec::new(), HashSet::new());
    for record in records {
        let (line, result) = match record {
            Ok(r) => (
                r.position().map_or(0, |p| p.line()),
                row(&r, &columns, &translations, &mut codes),
            ),
            Err(e) => (
                e.position().map_or(0, |p| p.line()),
                Err("not valid CSV".to_owned()),
            ),
        };
        match result {
            Ok(Some(service)) => services.push(service),
            Ok(None) => {}
            Err(problem) if problems.len() < 20 => problems.push(format!("line {line}: {problem}")),
            Err(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(PriceListError::Rows(problems));
    }
    if services.is_empty() {
        return Err(PriceListError::Empty);
    }
    Ok(services)
}

/// The languages of the `name_<lang>` columns after the five required ones, in column order;
/// `None` when the header is not the required five followed only by distinct such columns.
fn translation_columns(columns: &[String]) -> Option<Vec<String>> {
    if columns.len() < HEADER.len() || columns[..HEADER.len()] != HEADER {
        return None;
    }
    let mut languages: Vec<String> = Vec::new();
    for column in &columns[HEADER.len()..] {
        let language = column.strip_prefix("name_")?;
        let plausible =
            (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_lowercase());
        if !plausible || languages.iter().any(|l| l == language) {
            return None;
        }
        languages.push(language.to_owned());
    }
    Some(languages)
}

fn row(
    r: &csv::StringRecord,
    columns: &[String],
    translations: &[String],
    codes: &mut HashSet<String>,
) -> Result<Option<NewService>, String> {
    if r.iter().all(str::is_empty) {
        return Ok(None); // blank line
    }
    if r.len() != columns.len() {
        return Err(format!(
            "expected {} columns ({}), found {}",
            columns.len(),
            columns.join(","),
            r.len()
        ));
    }
    let code = &r[0];
    if code.is_empty()
        || !code
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "code {code:?} must be letters, digits, '-', '_' or '.'"
        ));
    }
    if !codes.insert(code.to_owned()) {
        return Err(format!("code {code:?} appears twice"));
    }
    let name = &r[1];
    if name.is_empty() {
        return Err("name is empty".into());
    }
    let currency = r[3].to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(format!(
            "currency {:?} must be a 3-letter code such as RUB",
            &r[3]
        ));
    }
    let price_minor = parse_major_units(&r[2], &currency).map_err(|e| format!("price: {e}"))?;
    let aliases = r[4]
        .split('|')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    let names: BTreeMap<String, String> = translations
        .iter()
        .zip(r.iter().skip(HEADER.len()))
        .filter(|(_, text)| !text.is_empty())
        .map(|(language, text)| (language.clone(), text.to_owned()))
        .collect();
    Ok(Some(NewService {
        code: code.to_owned(),
        name: name.to_owned(),
        names,
        price_minor,
        currency,
        aliases,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file_parses_with_aliases_and_minor_units() {
        let csv = "code,name,price,currency,aliases\nFILL,Пломба,4500.50,rub,пломба|filling\n\nXRAY,Снимок,900,RUB,\n";
        let rows = parse(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].price_minor, 450050);
        assert_eq!(rows[0].currency, "RUB");
        assert_eq!(rows[0].aliases, vec!["пломба", "filling"]);
        assert!(rows[1].aliases.is_empty());
    }

    #[test]
    fn bad_rows_are_reported_with_line_numbers() {
        let csv = "code,name,price,currency,aliases\nA,Ok,100,RUB,\nB,,100,RUB,\nC,Bad price,12abc,RUB,\nA,Dup,1,RUB,\nD,Cur,1,RUBLE,\n";
        let Err(PriceListError::Rows(problems)) = parse(csv.as_bytes()) else {
            panic!()
        };
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].starts_with("line 3: name is empty"));
        assert!(problems[1].starts_with("line 4: price"));
        assert!(problems[2].starts_with("line 5: code \"A\" appears twice"));
        assert!(problems[3].starts_with("line 6: currency"));
    }

    #[test]
    fn a_wrong_header_or_an_empty_list_is_refused() {
        assert!(matches!(
            parse(b"name,price\nx,1\n"),
            Err(PriceListError::Header(_))
        ));
        assert_eq!(
            parse(b"code,name,price,currency,aliases\n"),
            Err(PriceListError::Empty)
        );
        assert_eq!(parse(&[0xff, 0xfe]), Err(PriceListError::NotUtf8));
    }

    #[test]
    fn name_columns_give_translations_and_an_empty_cell_falls_back() {
        let csv = "code,name,price,currency,aliases,name_en,name_es\n\
                   FILL,Пломба,4500,RUB,пломба,\"Filling, light-cured\",Empaste\n\
                   XRAY,Снимок,900,RUB,,,Radiografía\n";
        let rows = parse(csv.as_bytes()).unwrap();
        assert_eq!(rows[0].names["en"], "Filling, light-cured");
        assert_eq!(rows[0].names["es"], "Empaste");
        assert_eq!(rows[1].names.get("en"), None);
        assert_eq!(rows[1].names["es"], "Radiografía");

        for header in [
            "code,name,price,currency,aliases,english",
            "code,name,price,currency,aliases,name_english",
            "code,name,price,currency,aliases,name_en,name_en",
        ] {
            let csv = format!("{header}\nA,B,1,RUB,,x\n");
            assert!(
                matches!(parse(csv.as_bytes()), Err(PriceListError::Header(_))),
                "{header}"
            );
        }
        let short = "code,name,price,currency,aliases,name_en\nA,B,1,RUB,\n";
        let Err(PriceListError::Rows(problems)) = parse(short.as_bytes()) else {
            panic!()
        };
        assert!(problems[0].contains("expected 6 columns"), "{problems:?}");
    }

    #[test]
    fn excel_files_parse_semicolons_windows_line_ends_and_spaced_thousands() {
        let csv = "\u{feff}code;name;price;currency;aliases\r\nA;Пломба;4 500,50;RUB;пломба\r\n\
                   B;Снимок;abc;RUB;\r\n";
        let Err(PriceListError::Rows(problems)) = parse(csv.as_bytes()) else {
            panic!()
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("line 3: price"), "{problems:?}");
        let good =
            parse("code;name;price;currency;aliases\r\nA;Пломба;4\u{a0}500,50;RUB;\r\n".as_bytes())
                .unwrap();
        assert_eq!(good[0].price_minor, 450050);
    }

    #[test]
    fn the_demo_price_list_is_valid() {
        let path = format!("{}/static/demo/prices.csv", env!("CARGO_MANIFEST_DIR"));
        let rows = parse(&std::fs::read(path).unwrap()).unwrap();
        assert!(rows.len() >= 20);
    }
}
