//! China's administrative divisions (GB/T 2260 lineage, National Bureau of Statistics codes):
//! provinces (2 digits), cities (4), districts and counties (6), and Chongqing's townships (9).
//! The tables are compiled in from `data/regions/` (see its README for source and licence);
//! they are reference data that never changes while the process runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Province {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct City {
    pub code: String,
    pub name: String,
    pub province_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    pub code: String,
    /// The official name, e.g. 秀山土家族苗族自治县.
    pub name: String,
    /// The name people say, e.g. 秀山; used for display in tight places and for search.
    pub short_name: String,
    pub city_code: String,
    pub province_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Township {
    pub code: String,
    pub name: String,
    pub district_code: String,
}

#[derive(Debug, Default)]
pub struct Regions {
    provinces: BTreeMap<String, Province>,
    cities: BTreeMap<String, City>,
    districts: BTreeMap<String, District>,
    townships: HashMap<String, Township>,
    townships_by_district: HashMap<String, Vec<String>>,
}

/// The compiled-in division tables.
pub fn regions() -> &'static Regions {
    static REGIONS: OnceLock<Regions> = OnceLock::new();
    REGIONS.get_or_init(|| {
        Regions::parse(
            include_str!("../data/regions/provinces.csv"),
            include_str!("../data/regions/cities.csv"),
            include_str!("../data/regions/areas.csv"),
            include_str!("../data/regions/streets-chongqing.csv"),
        )
    })
}

/// Chongqing's province code.
pub const CHONGQING: &str = "50";

/// City names that are placeholders in the tables, not names anyone writes on an address.
const PLACEHOLDER_CITIES: [&str; 4] = [
    "市辖区",
    "县",
    "省直辖县级行政区划",
    "自治区直辖县级行政区划",
];

/// Suffixes dropped to get the name people say (longest first).
const DISTRICT_SUFFIXES: [&str; 9] = [
    "土家族苗族自治县",
    "苗族土家族自治县",
    "土家族自治县",
    "苗族自治县",
    "自治县",
    "新区",
    "县",
    "区",
    "市",
];

impl Regions {
    fn parse(provinces: &str, cities: &str, areas: &str, streets: &str) -> Self {
        let mut regions = Regions::default();
        for f in rows(provinces) {
            if let [code, name, ..] = f.as_slice() {
                regions.provinces.insert(
                    code.to_string(),
                    Province {
                        code: code.to_string(),
                        name: name.to_string(),
                    },
                );
            }
        }
        for f in rows(cities) {
            if let [code, name, province_code, ..] = f.as_slice() {
                regions.cities.insert(
                    code.to_string(),
                    City {
                        code: code.to_string(),
                        name: name.to_string(),
                        province_code: province_code.to_string(),
                    },
                );
            }
        }
        for f in rows(areas) {
            if let [code, name, city_code, province_code, ..] = f.as_slice() {
                regions.districts.insert(
                    code.to_string(),
                    District {
                        code: code.to_string(),
                        name: name.to_string(),
                        short_name: short_name(name).to_owned(),
                        city_code: city_code.to_string(),
                        province_code: province_code.to_string(),
                    },
                );
            }
        }
        for f in rows(streets) {
            if let [code, name, district_code, ..] = f.as_slice() {
                regions
                    .townships_by_district
                    .entry(district_code.to_string())
                    .or_default()
                    .push(code.to_string());
                regions.townships.insert(
                    code.to_string(),
                    Township {
                        code: code.to_string(),
                        name: name.to_string(),
                        district_code: district_code.to_string(),
                    },
                );
            }
        }
        regions
    }

    pub fn province(&self, code: &str) -> Option<&Province> {
        self.provinces.get(code)
    }

    pub fn provinces(&self) -> impl Iterator<Item = &Province> {
        self.provinces.values()
    }

    pub fn city(&self, code: &str) -> Option<&City> {
        self.cities.get(code)
    }

    pub fn cities_of(&self, province_code: &str) -> impl Iterator<Item = &City> {
        let province_code = province_code.to_owned();
        self.cities
            .values()
            .filter(move |c| c.province_code == province_code)
    }

    pub fn district(&self, code: &str) -> Option<&District> {
        self.districts.get(code)
    }

    pub fn districts_of_city(&self, city_code: &str) -> impl Iterator<Item = &District> {
        let city_code = city_code.to_owned();
        self.districts
            .values()
            .filter(move |d| d.city_code == city_code)
    }

    pub fn districts_of_province(&self, province_code: &str) -> impl Iterator<Item = &District> {
        let province_code = province_code.to_owned();
        self.districts
            .values()
            .filter(move |d| d.province_code == province_code)
    }

    /// A township or street of Chongqing by its nine-digit code.
    pub fn township(&self, code: &str) -> Option<&Township> {
        self.townships.get(code)
    }

    /// The township of a Chongqing district with this name, if there is one.
    pub fn find_township(&self, district_code: &str, name: &str) -> Option<&Township> {
        self.townships_by_district
            .get(district_code)?
            .iter()
            .filter_map(|code| self.townships.get(code))
            .find(|t| t.name == name)
    }

    /// `重庆市城口县`, `山东省济南市历下区`: the district's name as written on an address.
    pub fn full_name(&self, district_code: &str) -> Option<String> {
        let district = self.district(district_code)?;
        let province = self.province(&district.province_code)?;
        let city = self
            .city(&district.city_code)
            .map(|c| c.name.as_str())
            .filter(|name| !PLACEHOLDER_CITIES.contains(name))
            .unwrap_or("");
        Some(format!("{}{}{}", province.name, city, district.name))
    }
}

/// The name people say: 城口县 → 城口, 秀山土家族苗族自治县 → 秀山, but 忠县 stays 忠县.
fn short_name(name: &str) -> &str {
    for suffix in DISTRICT_SUFFIXES {
        if let Some(stem) = name.strip_suffix(suffix)
            && stem.chars().count() >= 2
        {
            return stem;
        }
    }
    name
}

/// Splits the CSV tables (a header line, then simple rows whose text fields are quoted and
/// contain no commas) into fields.
fn rows(csv: &str) -> impl Iterator<Item = Vec<&str>> {
    csv.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            line.split(',')
                .map(|f| f.trim().trim_matches('"'))
                .collect()
        })
}

/// Whether `code` is a six-digit district or county code in the tables.
pub fn is_district_code(code: &str) -> bool {
    regions().district(code).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_chongqing_counties_by_their_short_names() {
        let r = regions();
        let chengkou = r.district("500229").map(|d| d.short_name.as_str());
        assert_eq!(chengkou, Some("城口"));
        let xiushan = r.district("500241").map(|d| d.short_name.as_str());
        assert_eq!(xiushan, Some("秀山"));
        let zhong = r.district("500233").map(|d| d.short_name.as_str());
        assert_eq!(zhong, Some("忠县"));
    }

    #[test]
    fn writes_full_names_without_placeholder_cities() {
        let r = regions();
        assert_eq!(r.full_name("500237").as_deref(), Some("重庆市巫山县"));
        assert_eq!(r.full_name("370102").as_deref(), Some("山东省济南市历下区"));
        assert_eq!(r.full_name("999999"), None);
    }

    #[test]
    fn has_the_whole_country_and_chongqing_townships() {
        let r = regions();
        assert_eq!(r.provinces().count(), 31);
        assert!(r.districts_of_province("37").count() > 100);
        assert!(r.districts_of_province(CHONGQING).count() >= 38);
        let township = r.find_township("500229", "高观镇");
        assert_eq!(township.map(|t| t.district_code.as_str()), Some("500229"));
    }
}
