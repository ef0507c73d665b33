//! Every file in `manifests/` parses (JSON, plist, XML, .reg), and the Kagi settings in every
//! enterprise policy template validate against the extension's `extension/managed_schema.json`.
//! The native host manifest templates are exactly what `kagi-host install` writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kagi_host::install::manifest::HostManifest;
use kagi_host::install::paths::Family;
use kagi_proto::ids::{CHROME_EXTENSION_ID, FIREFOX_EXTENSION_ID, NATIVE_HOST_NAME};
use serde_json::{json, Map, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn schema() -> Value {
    let text = std::fs::read_to_string(repo().join("extension/managed_schema.json")).expect("extension/managed_schema.json");
    serde_json::from_str(&text).expect("managed_schema.json is JSON")
}

/// The JSON-schema subset Chrome uses for `managed_schema` (type, properties, items, enum),
/// stricter in one way: a property the schema does not know is an error, so the templates
/// cannot drift from the schema.
fn validate(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let ty = schema["type"].as_str().unwrap_or("any");
    let ok = match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => true,
    };
    if !ok {
        errors.push(format!("{at}: expected {ty}, got {v}"));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(v) {
            errors.push(format!("{at}: {v} not in {allowed:?}"));
        }
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match schema["properties"].get(k) {
                    Some(s) => validate(s, x, &format!("{at}.{k}"), errors),
                    None => errors.push(format!("{at}: property {k} is not in managed_schema.json")),
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                validate(&schema["items"], x, &format!("{at}[{i}]"), errors);
            }
        }
        _ => {}
    }
}

fn assert_valid_settings(file: &Path, settings: &Value) {
    let mut errors = Vec::new();
    validate(&schema(), settings, "settings", &mut errors);
    assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    // The one setting a bank must set.
    assert!(settings["allowedOrigins"].as_array().is_some_and(|a| !a.is_empty()), "{}: no allowedOrigins", file.display());
}

/// A `.reg` file: `key -> [(value name, value)]`, strings and dwords.
fn parse_reg(text: &str) -> Result<BTreeMap<String, Vec<(String, Value)>>, String> {
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    if lines.next() != Some("Windows Registry Editor Version 5.00") {
        return Err("first line must be `Windows Registry Editor Version 5.00`".into());
    }
    if !text.is_ascii() {
        return Err("keep .reg files ASCII (regedit reads them as ANSI or UTF-16 only)".into());
    }
    let mut out: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (n, line) in lines.enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(k) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if !k.starts_with("HKEY_LOCAL_MACHINE\\") && !k.starts_with("HKEY_CURRENT_USER\\") {
                return Err(format!("line {}: unknown hive in {k}", n + 2));
            }
            out.entry(k.to_owned()).or_default();
            current = Some(k.to_owned());
            continue;
        }
        let key = current.clone().ok_or(format!("line {}: value before any key", n + 2))?;
        let (name, value) = line.split_once("\"=").ok_or(format!("line {}: not name=value", n + 2))?;
        let name = name.strip_prefix('"').ok_or(format!("line {}: name not quoted", n + 2))?;
        let value = if let Some(s) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            if s.contains('"') && !s.contains("\\\"") {
                return Err(format!("line {}: unescaped quote", n + 2));
            }
            Value::String(s.replace("\\\"", "\"").replace("\\\\", "\\"))
        } else if let Some(d) = value.strip_prefix("dword:") {
            if d.len() != 8 {
                return Err(format!("line {}: dword needs 8 hex digits", n + 2));
            }
            json!(u32::from_str_radix(d, 16).map_err(|e| format!("line {}: {e}", n + 2))?)
        } else {
            return Err(format!("line {}: unsupported value {value}", n + 2));
        };
        out.entry(key).or_default().push((name.to_owned(), value));
    }
    Ok(out)
}

/// Chrome's registry → policy conversion for a 3rdparty `policy` key, driven by the schema:
/// strings are values, lists are subkeys with values "1", "2", ...
fn reg_policy_to_json(reg: &BTreeMap<String, Vec<(String, Value)>>, key: &str) -> Value {
    let mut m = Map::new();
    for (name, v) in reg.get(key).into_iter().flatten() {
        m.insert(name.clone(), v.clone());
    }
    let prefix = format!("{key}\\");
    for (k, values) in reg {
        if let Some(sub) = k.strip_prefix(&prefix) {
            let mut items: Vec<(u32, Value)> = values.iter().map(|(n, v)| (n.parse().unwrap_or(u32::MAX), v.clone())).collect();
            items.sort_by_key(|(n, _)| *n);
            m.insert(sub.to_owned(), Value::Array(items.into_iter().map(|(_, v)| v).collect()));
        }
    }
    Value::Object(m)
}

fn plist_to_json(v: &plist::Value) -> Value {
    match v {
        plist::Value::Dictionary(d) => Value::Object(d.iter().map(|(k, v)| (k.clone(), plist_to_json(v))).collect()),
        plist::Value::Array(a) => Value::Array(a.iter().map(plist_to_json).collect()),
        plist::Value::String(s) => json!(s),
        plist::Value::Boolean(b) => json!(b),
        plist::Value::Integer(i) => json!(i.as_signed()),
        plist::Value::Real(r) => json!(r),
        other => json!(format!("{other:?}")),
    }
}

fn xml_well_formed(text: &str) -> Result<(), String> {
    let mut r = quick_xml::Reader::from_str(text);
    let mut depth = 0i32;
    let mut roots = 0;
    loop {
        match r.read_event().map_err(|e| e.to_string())? {
            quick_xml::events::Event::Start(_) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            quick_xml::events::Event::End(_) => depth -= 1,
            quick_xml::events::Event::Empty(_) if depth == 0 => roots += 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 || roots != 1 {
        return Err(format!("unbalanced XML (depth {depth}, {roots} root elements)"));
    }
    Ok(())
}

/// Chromium-family policy (JSON form): force-installs Kagi from an update URL, allows the host.
fn assert_chromium_policy(file: &Path, p: &Value) {
    let forced = p["ExtensionSettings"][CHROME_EXTENSION_ID]["installation_mode"] == "force_installed"
        && p["ExtensionSettings"][CHROME_EXTENSION_ID]["update_url"].as_str().is_some_and(|u| u.starts_with("https://"))
        || p["ExtensionInstallForcelist"]
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e.as_str().is_some_and(|s| s.starts_with(&format!("{CHROME_EXTENSION_ID};https://")))));
    assert!(forced, "{}: does not force-install {CHROME_EXTENSION_ID} from an https update URL", file.display());
    assert!(
        p["NativeMessagingAllowlist"].as_array().is_some_and(|a| a.contains(&json!(NATIVE_HOST_NAME))),
        "{}: NativeMessagingAllowlist lacks {NATIVE_HOST_NAME}",
        file.display()
    );
}

#[test]
fn every_template_parses_and_its_kagi_settings_match_the_schema() {
    let dir = repo().join("manifests");
    let mut settings_checked = 0;
    let mut seen = Vec::new();
    for f in files(&dir) {
        let rel = f.strip_prefix(&dir).unwrap().to_string_lossy().replace('\\', "/");
        seen.push(rel.clone());
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8(bytes).unwrap_or_else(|_| panic!("{rel}: not UTF-8"));
        match f.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "json" => {
                let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
                if rel.starts_with("native-host/") {
                    continue; // checked below
                }
                if rel.starts_with("firefox/") {
                    assert_valid_settings(&f, &v["policies"]["3rdparty"]["Extensions"][FIREFOX_EXTENSION_ID]);
                    assert_eq!(v["policies"]["ExtensionSettings"][FIREFOX_EXTENSION_ID]["installation_mode"], "force_installed", "{rel}");
                } else {
                    assert_valid_settings(&f, &v["3rdparty"]["extensions"][CHROME_EXTENSION_ID]);
                    assert_chromium_policy(&f, &v);
                }
                settings_checked += 1;
            }
            "mobileconfig" | "plist" => {
                let p = plist::Value::from_reader_xml(text.as_bytes()).unwrap_or_else(|e| panic!("{rel}: {e}"));
                let v = plist_to_json(&p);
                assert_eq!(v["PayloadType"], "Configuration", "{rel}");
                let payloads = v["PayloadContent"].as_array().unwrap_or_else(|| panic!("{rel}: no PayloadContent"));
                for vendor in ["com.google.Chrome", "com.microsoft.Edge"] {
                    let browser = payloads.iter().find(|p| p["PayloadType"] == vendor).unwrap_or_else(|| panic!("{rel}: no {vendor} payload"));
                    assert_chromium_policy(&f, browser);
                    let ext = format!("{vendor}.extensions.{CHROME_EXTENSION_ID}");
                    let s = payloads.iter().find(|p| p["PayloadType"] == ext.as_str()).unwrap_or_else(|| panic!("{rel}: no {ext} payload"));
                    let mut s = s.clone();
                    s.as_object_mut().unwrap().retain(|k, _| !k.starts_with("Payload"));
                    assert_valid_settings(&f, &s);
                    settings_checked += 1;
                }
                let uuids: Vec<_> = payloads.iter().map(|p| p["PayloadUUID"].clone()).collect();
                let mut dedup = uuids.clone();
                dedup.dedup();
                assert_eq!(uuids.len(), dedup.len(), "{rel}: duplicate PayloadUUID");
            }
            // MSI sources (scripts/build-msi.sh builds them; the Windows suite installs them) and
            // Group Policy templates (their registry keys are checked below).
            "xml" | "wxs" | "admx" | "adml" => {
                xml_well_formed(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
            }
            "reg" => {
                let reg = parse_reg(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
                let vendor = if rel.contains("edge") { r"Microsoft\Edge" } else { r"Google\Chrome" };
                let base = format!(r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\{vendor}");
                let s = reg_policy_to_json(&reg, &format!(r"{base}\3rdparty\extensions\{CHROME_EXTENSION_ID}\policy"));
                assert_valid_settings(&f, &s);
                let list = |k: &str| Value::Array(reg.get(&format!(r"{base}\{k}")).into_iter().flatten().map(|(_, v)| v.clone()).collect());
                assert_chromium_policy(&f, &json!({"ExtensionInstallForcelist": list("ExtensionInstallForcelist"), "NativeMessagingAllowlist": list("NativeMessagingAllowlist")}));
                settings_checked += 1;
            }
            "md" => {}
            other => panic!("{rel}: no check for .{other} files; add one here"),
        }
    }
    // chrome, edge, firefox JSON; two .reg; Chrome + Edge in the profile.
    assert!(settings_checked >= 7, "only {settings_checked} templates with Kagi settings: {seen:?}");
    for needed in ["chrome/README.md", "edge/README.md", "firefox/README.md", "windows/README.md", "macos/README.md", "updates.xml"] {
        assert!(seen.iter().any(|s| s == needed), "manifests/{needed} is missing");
    }
}

#[test]
fn native_host_templates_are_what_install_writes() {
    let dir = repo().join("manifests/native-host");
    for (sub, family) in [("chromium", Family::Chromium), ("firefox", Family::Firefox)] {
        let f = dir.join(sub).join(format!("{NATIVE_HOST_NAME}.json"));
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(text, HostManifest::kagi(family, "/usr/bin/kagi-host").render(), "{}", f.display());
    }
    // The MSI's, installed beside kagi-host.exe and naming it relative to themselves.
    let win = dir.join("windows");
    for (name, family) in [(format!("{NATIVE_HOST_NAME}.json"), Family::Chromium), (format!("{NATIVE_HOST_NAME}.firefox.json"), Family::Firefox)] {
        let f = win.join(name);
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(text, HostManifest::kagi(family, "kagi-host.exe").render(), "{}", f.display());
    }
}

#[test]
fn msi_sources_register_the_manifests_the_installer_ships() {
    let dir = repo().join("manifests/windows");
    let machine = std::fs::read_to_string(dir.join("kagi-host.wxs")).unwrap();
    let user = std::fs::read_to_string(dir.join("kagi-host-user.wxs")).unwrap();
    // Per machine: HKLM value of each browser's key names the manifest in the install directory.
    for vendor in [r"Google\Chrome", "Chromium", r"Microsoft\Edge"] {
        let key = format!(r#"Root="HKLM" Key="Software\{vendor}\NativeMessagingHosts\{NATIVE_HOST_NAME}" Type="string" Value="[INSTALLDIR]{NATIVE_HOST_NAME}.json""#);
        assert!(machine.contains(&key), "kagi-host.wxs lacks {key}");
    }
    let ff = format!(r#"Root="HKLM" Key="Software\Mozilla\NativeMessagingHosts\{NATIVE_HOST_NAME}" Type="string" Value="[INSTALLDIR]{NATIVE_HOST_NAME}.firefox.json""#);
    assert!(machine.contains(&ff), "kagi-host.wxs lacks {ff}");
    assert!(machine.contains(r#"InstallScope="perMachine""#) && machine.contains(r#"Id="ProgramFiles64Folder""#));
    // Per user: no administrator rights; the host registers itself.
    assert!(user.contains(r#"InstallScope="perUser""#) && user.contains(r#"Id="LocalAppDataFolder""#));
    assert!(user.contains(r#"ExeCommand="install --scope user""#) && user.contains(r#"ExeCommand="uninstall --scope user""#));
    assert!(!user.contains(r#"Root="HKLM""#), "the per-user package must not need HKLM");
    // Fixed, distinct upgrade codes: a new version replaces the old one of the same kind.
    let code = |t: &str| t.split("UpgradeCode=\"").nth(1).and_then(|r| r.split('"').next()).map(str::to_owned).unwrap();
    assert_eq!(code(&machine), "03F4063F-1B10-41E9-9730-5E3D998F559D");
    assert_eq!(code(&user), "3FD40207-28DC-4657-91F2-680893034E1B");
    assert!(machine.contains(r#"Version="$(var.Version)""#) && user.contains(r#"Version="$(var.Version)""#));
}

#[test]
fn updates_xml_names_kagi_and_the_extension_version() {
    let text = std::fs::read_to_string(repo().join("manifests/updates.xml")).unwrap();
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(repo().join("extension/manifest.json")).unwrap()).unwrap();
    let version = manifest["version"].as_str().unwrap();
    let mut r = quick_xml::Reader::from_str(&text);
    let mut found = None;
    loop {
        match r.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let attr = |n: &str| e.try_get_attribute(n).ok().flatten().map(|a| String::from_utf8_lossy(&a.value).into_owned());
                match e.name().as_ref() {
                    b"app" => assert_eq!(attr("appid").as_deref(), Some(CHROME_EXTENSION_ID)),
                    b"updatecheck" => found = Some((attr("codebase").unwrap_or_default(), attr("version").unwrap_or_default())),
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    let (codebase, v) = found.expect("updatecheck element");
    assert!(codebase.ends_with(".crx"), "{codebase}");
    assert_eq!(v, version, "updates.xml version must follow extension/manifest.json");
}

#[test]
fn the_schema_check_catches_mistakes() {
    let s = schema();
    let mut e = Vec::new();
    validate(&s, &json!({"allowedOrigins": "https://www.bank.example"}), "x", &mut e);
    validate(&s, &json!({"allowedOrigin": ["https://www.bank.example"]}), "x", &mut e);
    validate(&s, &json!({"allowedOrigins": [1]}), "x", &mut e);
    assert_eq!(e.len(), 3, "{e:#?}");
    let reg = parse_reg("Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\X]\r\n\"a\"=\"b\"\r\n\"n\"=dword:00000001\r\n").unwrap();
    assert_eq!(reg["HKEY_LOCAL_MACHINE\\X"], vec![("a".to_owned(), json!("b")), ("n".to_owned(), json!(1))]);
    assert!(parse_reg("REGEDIT4\n").is_err());
    assert!(xml_well_formed("<a><b></a>").is_err());
}

/// `$(string.X)` / `$(presentation.X)` references in an ADMX, and `id="X"` definitions of an ADML.
fn admx_refs(text: &str, kind: &str) -> Vec<String> {
    let open = format!("$({kind}.");
    text.split(open.as_str()).skip(1).filter_map(|r| r.split(')').next()).map(str::to_owned).collect()
}

fn adml_ids(text: &str, element: &str) -> Vec<String> {
    let open = format!("<{element} id=\"");
    text.split(open.as_str()).skip(1).filter_map(|r| r.split('"').next()).map(str::to_owned).collect()
}

#[test]
fn group_policy_templates_write_what_the_reg_files_write() {
    let dir = repo().join("manifests/windows");
    let admx = std::fs::read_to_string(dir.join("admx/kagi.admx")).unwrap();
    for (vendor, reg_file) in [(r"Google\Chrome", "kagi-chrome.reg"), (r"Microsoft\Edge", "kagi-edge.reg")] {
        let key = format!(r"Software\Policies\{vendor}\3rdparty\extensions\{CHROME_EXTENSION_ID}\policy");
        // The .reg file sets the same key (HKLM; the ADMX policies are for machine and user).
        let reg = parse_reg(&std::fs::read_to_string(dir.join(reg_file)).unwrap()).unwrap();
        assert!(reg.keys().any(|k| k.eq_ignore_ascii_case(&format!(r"HKEY_LOCAL_MACHINE\{key}"))), "{reg_file} lacks {key}");
        assert!(admx.contains(&format!(r#"key="{key}\allowedOrigins" valuePrefix="""#)), "allowedOrigins list for {vendor}");
        let policies: Vec<&str> = admx.split("<policy ").skip(1).filter(|p| p.contains(&format!(r#"key="{key}""#))).collect();
        assert_eq!(policies.len(), 4, "four policies for {vendor}");
        assert!(policies.iter().any(|p| p.contains(r#"valueName="defaultLanguage""#) && p.contains("<string>ja</string>") && p.contains("<string>en</string>")));
        assert!(policies.iter().any(|p| p.contains(r#"valueName="renewalUrl""#)));
    }
    // Every managed setting has a policy, and nothing else does.
    let schema = schema();
    for k in schema["properties"].as_object().unwrap().keys() {
        assert!(admx.contains(&format!(r#"valueName="{k}""#)) || admx.contains(&format!(r#"\{k}" valuePrefix"#)), "no policy for {k}");
    }
    // Both languages define every text and presentation the ADMX uses.
    for lang in ["en-US", "ja-JP"] {
        let adml = std::fs::read_to_string(dir.join("admx").join(lang).join("kagi.adml")).unwrap();
        let strings = adml_ids(&adml, "string");
        for r in admx_refs(&admx, "string") {
            assert!(strings.contains(&r), "{lang}/kagi.adml lacks string {r}");
        }
        let presentations = adml_ids(&adml, "presentation");
        for r in admx_refs(&admx, "presentation") {
            assert!(presentations.contains(&r), "{lang}/kagi.adml lacks presentation {r}");
        }
        for id in ["AllowedOriginsList", "DefaultLanguageEnum", "RenewalUrlText", "BankNameText"] {
            assert!(adml.contains(&format!(r#"refId="{id}""#)) && admx.contains(&format!(r#"id="{id}""#)), "{lang}: {id}");
        }
    }
}

#[test]
fn the_host_policy_template_writes_what_the_host_reads() {
    use kagi_host::policy::{REGISTRY_KEY, REGISTRY_VALUE};
    let dir = repo().join("manifests/windows");
    let admx = std::fs::read_to_string(dir.join("admx/kagi.admx")).unwrap();
    let policy = admx
        .split("<policy ")
        .skip(1)
        .find(|p| p.contains(&format!(r#"key="{REGISTRY_KEY}""#)))
        .unwrap_or_else(|| panic!("no policy for {REGISTRY_KEY}"));
    // Machine only (a user can write HKCU), and a REG_MULTI_SZ value: multiText.
    assert!(policy.contains(r#"class="Machine""#), "{policy}");
    assert!(policy.contains(&format!(r#"<multiText id="HostAllowedOriginsText" valueName="{REGISTRY_VALUE}""#)), "{policy}");
    for lang in ["en-US", "ja-JP"] {
        let adml = std::fs::read_to_string(dir.join("admx").join(lang).join("kagi.adml")).unwrap();
        assert!(adml.contains(r#"<multiTextBox refId="HostAllowedOriginsText">"#), "{lang}");
        assert!(adml.contains(r"HKLM\Software\Policies\Kagi"), "{lang}: the explanation names the key");
    }
}

#[test]
fn the_host_log_policy_writes_levels_the_host_understands() {
    use kagi_host::log::Level;
    use kagi_host::policy::{REGISTRY_KEY, REGISTRY_LOG_VALUE};
    let dir = repo().join("manifests/windows");
    let admx = std::fs::read_to_string(dir.join("admx/kagi.admx")).unwrap();
    let policy = admx
        .split("<policy ")
        .skip(1)
        .find(|p| p.contains(&format!(r#"key="{REGISTRY_KEY}""#)) && p.contains(&format!(r#"valueName="{REGISTRY_LOG_VALUE}""#)))
        .unwrap_or_else(|| panic!("no policy for {REGISTRY_KEY} {REGISTRY_LOG_VALUE}"));
    assert!(policy.contains(r#"class="Machine""#), "{policy}");
    let values: Vec<&str> = policy.split("<string>").skip(1).filter_map(|v| v.split("</string>").next()).collect();
    assert_eq!(values.len(), 4, "{policy}");
    for v in values {
        assert!(Level::parse(v).is_some(), "the host does not understand {v}");
    }
    for lang in ["en-US", "ja-JP"] {
        let adml = std::fs::read_to_string(dir.join("admx").join(lang).join("kagi.adml")).unwrap();
        assert!(adml.contains(r#"<dropdownList refId="HostLogEnum""#), "{lang}");
        assert!(adml.contains(r"%LOCALAPPDATA%\Kagi\host.log") && adml.contains("log (REG_SZ"), "{lang}");
    }
}
