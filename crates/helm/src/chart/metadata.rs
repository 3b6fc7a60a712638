//! `Chart.yaml` (and an `apiVersion: v1` chart's `requirements.yaml`) as Helm reads and
//! validates it.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::values::read::read_values;

/// What is wrong with a chart's metadata. Messages follow Helm's (`validation: ...`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file does not read as YAML.
    #[error("cannot load {file}: {source}")]
    Yaml {
        /// `Chart.yaml` or `requirements.yaml`.
        file: &'static str,
        /// The reader's error.
        source: crate::values::read::Error,
    },
    /// A field has the wrong type.
    #[error(
        "cannot load {file}: json: cannot unmarshal {found} into Go struct field {field} of type {want}; fix the field's type"
    )]
    FieldType {
        /// `Chart.yaml` or `requirements.yaml`.
        file: &'static str,
        /// The field, as Go names it (`Metadata.version`).
        field: String,
        /// The type wanted.
        want: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// Helm's validation refuses the metadata.
    #[error("validation: {0}")]
    Invalid(String),
}

/// One entry of `dependencies:`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dependency {
    /// The subchart's name.
    pub name: String,
    /// The version range.
    pub version: String,
    /// Where it is downloaded from (unused by rendering).
    pub repository: String,
    /// Values paths deciding whether it is enabled (`a.enabled,global.a.enabled`).
    pub condition: String,
    /// Tags deciding whether it is enabled.
    pub tags: Vec<String>,
    /// Whether it is enabled (decided while rendering; `true` before).
    pub enabled: bool,
    /// `import-values`: strings or `{child, parent}` maps.
    pub import_values: Vec<Json>,
    /// The name the subchart takes in this chart.
    pub alias: String,
}

/// `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// `apiVersion` (`v1` when absent, as Helm defaults it).
    pub api_version: String,
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// `kubeVersion`: a constraint on the cluster's version.
    pub kube_version: String,
    /// `description`.
    pub description: String,
    /// `type`: `application` (or empty) or `library`.
    pub chart_type: String,
    /// `appVersion`.
    pub app_version: String,
    /// `deprecated`.
    pub deprecated: bool,
    /// `condition` (obsolete, kept for `.Chart`).
    pub condition: String,
    /// `tags` (obsolete, kept for `.Chart`).
    pub tags: String,
    /// `home`.
    pub home: String,
    /// `icon`.
    pub icon: String,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// `sources`.
    pub sources: Vec<String>,
    /// `maintainers`, as written.
    pub maintainers: Vec<Json>,
    /// `annotations` (`None` when absent: Go's nil map).
    pub annotations: Option<BTreeMap<String, String>>,
    /// `dependencies`.
    pub dependencies: Vec<Dependency>,
    /// Whether `dependencies` is written at all (even empty): Helm processes dependencies
    /// only then.
    pub dependencies_declared: bool,
}

/// A field reader that names the file and field in its errors.
struct Fields<'a> {
    file: &'static str,
    owner: &'static str,
    map: &'a serde_json::Map<String, Json>,
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

impl Fields<'_> {
    fn wrong(&self, key: &str, want: &'static str, found: &Json) -> Error {
        Error::FieldType {
            file: self.file,
            field: format!("{}.{key}", self.owner),
            want,
            found: kind(found),
        }
    }

    fn string(&self, key: &str) -> Result<String, Error> {
        match self.map.get(key) {
            None | Some(Json::Null) => Ok(String::new()),
            Some(Json::String(s)) => Ok(s.clone()),
            Some(other) => Err(self.wrong(key, "string", other)),
        }
    }

    fn boolean(&self, key: &str) -> Result<bool, Error> {
        match self.map.get(key) {
            None | Some(Json::Null) => Ok(false),
            Some(Json::Bool(b)) => Ok(*b),
            Some(other) => Err(self.wrong(key, "bool", other)),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, Error> {
        match self.map.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Json::String(s) => Ok(s.clone()),
                    other => Err(self.wrong(key, "string", other)),
                })
                .collect(),
            Some(other) => Err(self.wrong(key, "[]string", other)),
        }
    }

    fn list(&self, key: &str) -> Result<Vec<Json>, Error> {
        match self.map.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => Ok(items.clone()),
            Some(other) => Err(self.wrong(key, "array", other)),
        }
    }
}

impl Metadata {
    /// Reads and validates `Chart.yaml`; `requirements` is `requirements.yaml`, whose
    /// dependencies count for an `apiVersion: v1` chart.
    ///
    /// # Errors
    /// YAML that does not read, a field of the wrong type, or what Helm's validation refuses.
    pub fn parse(chart_yaml: &[u8], requirements: Option<&[u8]>) -> Result<Metadata, Error> {
        let text = String::from_utf8_lossy(chart_yaml);
        let map = read_values(&text, "Chart.yaml").map_err(|source| Error::Yaml {
            file: "Chart.yaml",
            source,
        })?;
        let f = Fields {
            file: "Chart.yaml",
            owner: "Metadata",
            map: &map,
        };
        let annotations = match map.get("annotations") {
            None | Some(Json::Null) => None,
            Some(Json::Object(m)) => Some(
                m.iter()
                    .map(|(k, v)| match v {
                        Json::String(s) => Ok((k.clone(), s.clone())),
                        other => Err(f.wrong("annotations", "string", other)),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Some(other) => return Err(f.wrong("annotations", "map[string]string", other)),
        };
        let mut md = Metadata {
            api_version: f.string("apiVersion")?,
            name: f.string("name")?,
            version: f.string("version")?,
            kube_version: f.string("kubeVersion")?,
            description: f.string("description")?,
            chart_type: f.string("type")?,
            app_version: f.string("appVersion")?,
            deprecated: f.boolean("deprecated")?,
            condition: f.string("condition")?,
            tags: f.string("tags")?,
            home: f.string("home")?,
            icon: f.string("icon")?,
            keywords: f.strings("keywords")?,
            sources: f.strings("sources")?,
            maintainers: f.list("maintainers")?,
            annotations,
            dependencies: dependencies(&f)?,
            dependencies_declared: declared(&map),
        };
        if md.api_version.is_empty() {
            "v1".clone_into(&mut md.api_version);
        }
        if md.api_version == "v1"
            && let Some(req) = requirements
        {
            let text = String::from_utf8_lossy(req);
            let map = read_values(&text, "requirements.yaml").map_err(|source| Error::Yaml {
                file: "requirements.yaml",
                source,
            })?;
            md.dependencies = dependencies(&Fields {
                file: "requirements.yaml",
                owner: "Metadata",
                map: &map,
            })?;
            md.dependencies_declared = declared(&map);
        }
        md.validate()?;
        Ok(md)
    }

    /// Helm's `Metadata.Validate`.
    fn validate(&self) -> Result<(), Error> {
        let invalid = |m: String| Err(Error::Invalid(m));
        if !matches!(self.api_version.as_str(), "v1" | "v2") {
            return invalid(format!(
                "chart.metadata.apiVersion {:?} is not supported: use v2 (or v1)",
                self.api_version
            ));
        }
        if self.name.is_empty() {
            return invalid("chart.metadata.name is required".to_owned());
        }
        if self.name.contains(['/', '\\']) || self.name == "." || self.name == ".." {
            return invalid(format!(
                "chart.metadata.name {:?} is invalid: a chart name cannot be a path",
                self.name
            ));
        }
        if self.version.is_empty() {
            return invalid("chart.metadata.version is required".to_owned());
        }
        if !crate::funcs::semver::is_version(&self.version) {
            return invalid(format!(
                "chart.metadata.version {:?} is invalid",
                self.version
            ));
        }
        if !matches!(self.chart_type.as_str(), "" | "application" | "library") {
            return invalid("chart.metadata.type must be application or library".to_owned());
        }
        for dep in &self.dependencies {
            if dep.name.is_empty() {
                return invalid("dependencies must have a name".to_owned());
            }
            if !dep.alias.is_empty()
                && !dep
                    .alias
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            {
                return invalid(format!(
                    "dependency {:?} has disallowed characters in the alias",
                    dep.name
                ));
            }
        }
        Ok(())
    }
}

fn declared(map: &serde_json::Map<String, Json>) -> bool {
    map.get("dependencies").is_some_and(|d| !d.is_null())
}

fn dependencies(f: &Fields<'_>) -> Result<Vec<Dependency>, Error> {
    let mut out = Vec::new();
    for item in f.list("dependencies")? {
        let Json::Object(map) = &item else {
            return Err(f.wrong("dependencies", "chart.Dependency", &item));
        };
        let d = Fields {
            file: f.file,
            owner: "Dependency",
            map,
        };
        out.push(Dependency {
            name: d.string("name")?,
            version: d.string("version")?,
            repository: d.string("repository")?,
            condition: d.string("condition")?,
            tags: d.strings("tags")?,
            enabled: true,
            import_values: d.list("import-values")?,
            alias: d.string("alias")?,
        });
    }
    Ok(out)
}
