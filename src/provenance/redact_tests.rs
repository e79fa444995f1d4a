use super::*;

/// Issue 12: names that hold secrets are told apart from names that only contain the letters.
#[test]
fn secret_names_are_words_of_the_name_not_letters_in_it() {
    for secret in [
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "GITHUB_TOKEN",
        "WANDB_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "OPENAI_API_KEY",
        "apiKey",
        "APIKEY",
        "db.password",
        "PGPASSWORD",
        "MYSQL_PWD",
        "DB_PASS",
        "SSH_PASSPHRASE",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "SSH_AUTH_SOCK",
        "session_cookie",
        "private",
        "MY_PRIVATE_THING",
        "client_secret",
        "key",
        "Authorization",
    ] {
        assert!(is_secret_name(secret), "{secret} should be secret");
    }
    for plain in [
        "TOKENIZERS_PARALLELISM",
        "max_tokens",
        "num_tokens",
        "key_dim",
        "HF_TOKEN_PATH",
        "pad_token_id",
        "monkey",
        "keyboard_layout",
        "author",
        "bypass",
        "passthrough",
        "num_passes",
        "CUDA_VISIBLE_DEVICES",
        "SLURM_JOB_PARTITION",
        "PYTHONHASHSEED",
        "LD_LIBRARY_PATH",
        "PATH",
        "HF_HOME",
        "lr",
    ] {
        assert!(!is_secret_name(plain), "{plain} should not be secret");
    }
}

fn redacted(text: &str) -> (String, Vec<String>) {
    let mut found = Vec::new();
    let out = redact_text(text, "config", &mut found);
    assert!(found.iter().all(|r| r.place == "config"));
    (out, found.into_iter().map(|r| r.what).collect())
}

/// Issue 12: every known token shape is replaced, listed by kind, and the text around it kept.
#[test]
fn every_token_shape_is_redacted_and_listed() {
    let cases = [
        ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345", "Hugging Face token"),
        ("ghp_0123456789abcdefghijABCDEFGHIJ012345", "GitHub token"),
        ("gho_0123456789abcdefghijABCDEFGHIJ012345", "GitHub token"),
        (
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRS",
            "GitHub token",
        ),
        ("sk-proj-Ab3dEf6hIj9lMn2pQr5tUv8xYz", "API secret key (sk-)"),
        ("sk-ant-api03-abcdefghij0123456789", "API secret key (sk-)"),
        ("AKIAIOSFODNN7EXAMPLE", "AWS access key id"),
        ("ASIAIOSFODNN7EXAMPLE", "AWS access key id"),
        ("xoxb-1234567890-abcdefghij", "Slack token"),
        ("xoxp-1234567890-abcdefghij", "Slack token"),
        ("glpat-abcdefghij0123456789", "GitLab token"),
        ("AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", "Google API key"),
    ];
    for (token, kind) in cases {
        let (out, found) = redacted(&format!("before \"{token}\" after"));
        assert_eq!(out, "before \"<redacted>\" after", "{token}");
        assert_eq!(found, [kind], "{token}");
    }
}

/// Issue 12: words that share a prefix with a token shape are not tokens.
#[test]
fn look_alikes_are_left_alone() {
    for text in [
        "task-abcdefghijklmnopqrstuvwxyz",
        "use sk-learn-style-pipeline-configuration",
        "hf_short",
        "AKIA-not-a-key",
        "https://example.org:8443/path@v1",
        "ssh://git@github.com/lab/repo.git",
        "git@github.com:lab/repo.git",
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
    ] {
        let (out, found) = redacted(text);
        assert_eq!(out, text);
        assert!(found.is_empty(), "{text}: {found:?}");
    }
}

/// Issue 12: a password in a URL goes, the user and host stay.
#[test]
fn a_url_password_is_redacted() {
    let (out, found) = redacted("clone https://me:s3cr3t@example.org/x.git now");
    assert_eq!(out, "clone https://me:<redacted>@example.org/x.git now");
    assert_eq!(found, ["URL password"]);
}

/// Issue 12: a PEM private key in a patch keeps its lines and diff markers (the patch still
/// applies), and one left without its END line is redacted to the end.
#[test]
fn a_pem_block_keeps_its_lines() {
    let patch = "@@ -0,0 +1,4 @@\n+-----BEGIN RSA PRIVATE KEY-----\n+MIIEowIBAAKCAQEA1234\n+  abcd==\r\n+-----END RSA PRIVATE KEY-----\n keep\n";
    let (out, found) = redacted(patch);
    assert_eq!(
        out,
        "@@ -0,0 +1,4 @@\n+-----BEGIN RSA PRIVATE KEY-----\n+<redacted>\n+  <redacted>\r\n+-----END RSA PRIVATE KEY-----\n keep\n"
    );
    assert_eq!(found, ["PEM private key"]);
    let (out, _) = redacted("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\nAAAA");
    assert_eq!(
        out,
        "-----BEGIN OPENSSH PRIVATE KEY-----\n<redacted>\n<redacted>"
    );
}

/// Issue 12 (found in review): a service account's key file holds its PEM block on one line,
/// line ends escaped in a JSON string; the key between BEGIN and END goes.
#[test]
fn a_pem_block_on_one_line_is_redacted() {
    let file = "{\n  \"type\": \"service_account\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\nabcd==\\n-----END PRIVATE KEY-----\\n\",\n  \"client_email\": \"x@y\"\n}\n";
    let (out, found) = redacted(file);
    assert!(!out.contains("MIIEvQ") && !out.contains("abcd=="), "{out}");
    assert!(out.contains("\"private_key\": \"-----BEGIN PRIVATE KEY-----<redacted>-----END PRIVATE KEY-----\\n\""), "{out}");
    assert!(out.contains("client_email"), "{out}");
    assert_eq!(found, ["PEM private key"]);
}

/// Issue 12: each kind is listed once per place, however often it occurs; bytes that are not
/// UTF-8 around a token are kept as they were.
#[test]
fn kinds_are_listed_once_and_other_bytes_kept() {
    let (out, found) = redacted("a hf_AbCdEfGhIjKlMnOpQrStUvWx b hf_ZyXwVuTsRqPoNmLkJiHgFe c");
    assert_eq!(out, "a <redacted> b <redacted> c");
    assert_eq!(found, ["Hugging Face token"]);
    let mut found = Vec::new();
    let latin1 = b"caf\xe9 = 'ghp_0123456789abcdefghijABCDEFGHIJ012345' \xff\n";
    let out = redact_bytes(latin1, "patch", &mut found);
    assert_eq!(out, b"caf\xe9 = '<redacted>' \xff\n");
    assert_eq!(found[0].place, "patch");
}
