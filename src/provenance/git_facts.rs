//! What the repository says besides its working state: `describe`, the upstream and the
//! distance to it, the remote's URL without credentials, whether a remote has the commit. Each
//! fact on its own: a command that fails leaves its fact `None`.

use super::git::{Git, Head};
use super::model::Upstream;

/// What the repository says besides its working state; each fact on its own, `None` when its
/// command fails.
#[derive(Default)]
pub(super) struct Facts {
    pub describe: Option<String>,
    pub upstream: Option<Upstream>,
    pub remote_url: Option<String>,
    pub on_remote: Option<bool>,
}

/// The facts, one command each, in a row (they run beside the working state's commands).
pub(super) fn facts(git: &Git, head: &Head) -> Facts {
    let text = |args: &[&str]| {
        git.run(args)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
    };
    let describe = text(&["describe", "--tags", "--always", "HEAD"]).filter(|d| !d.is_empty());
    let upstream = head.branch.as_ref().and_then(|b| {
        let format = "--format=%(upstream:short)%00%(upstream:track,nobracket)";
        upstream(&text(&[
            "for-each-ref",
            format,
            &format!("refs/heads/{b}"),
        ])?)
    });
    // Exit 1 when no remote has a URL.
    let remotes = text(&["config", "-z", "--get-regexp", r"^remote\..*\.url$"]);
    let remote_url = remotes
        .as_deref()
        .and_then(pick_remote)
        .map(strip_credentials);
    let on_remote = remote_url.as_ref().and_then(|_| {
        let contains = ["for-each-ref", "--count=1", "--contains", "HEAD"];
        text(&[&contains[..], &["--format=%(refname)", "refs/remotes/"]].concat())
            .map(|r| !r.is_empty())
    });
    Facts {
        describe,
        upstream,
        remote_url,
        on_remote,
    }
}

/// `origin/main\0ahead 1, behind 2` (or `gone`, or nothing after the NUL) as an [`Upstream`];
/// `None` without an upstream or when it is gone.
fn upstream(line: &str) -> Option<Upstream> {
    let (name, track) = line.split_once('\0')?;
    if name.is_empty() || track == "gone" {
        return None;
    }
    let count = |word: &str| {
        track
            .split(", ")
            .find_map(|part| part.strip_prefix(word)?.trim().parse().ok())
            .unwrap_or(0)
    };
    Some(Upstream {
        name: name.to_string(),
        ahead: count("ahead "),
        behind: count("behind "),
    })
}

/// `origin`'s URL, else the first remote's, from `git config -z --get-regexp` (`name\nvalue\0`).
fn pick_remote(config: &str) -> Option<String> {
    let urls: Vec<(&str, &str)> = config
        .split('\0')
        .filter_map(|entry| entry.split_once('\n'))
        .collect();
    let (_, url) = urls
        .iter()
        .find(|(key, _)| *key == "remote.origin.url")
        .or(urls.first())?;
    Some(url.to_string())
}

/// `url` without its credentials: `https://user:token@host/x.git` → `https://host/x.git` (a
/// user name on HTTP is often the token itself); an `ssh://` URL keeps its user and loses only a
/// password; `git@host:x.git` and paths are left as they are.
pub fn strip_credentials(url: String) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url;
    };
    let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
    let web = ["http", "https", "ftp", "ftps"].contains(&scheme.to_ascii_lowercase().as_str());
    match (web, userinfo.split_once(':')) {
        (true, _) => format!("{scheme}://{host}"),
        (false, Some((user, _))) => format!("{scheme}://{user}@{host}"),
        (false, None) => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: credentials never leave with a remote URL; ssh and scp-like forms are kept.
    #[test]
    fn credentials_are_stripped_from_urls() {
        let cases = [
            ("https://user:tok@host/x.git", "https://host/x.git"),
            (
                "https://ghp_abc@github.com/lab/x.git",
                "https://github.com/lab/x.git",
            ),
            ("HTTP://u:p@host:8080/x", "HTTP://host:8080/x"),
            ("https://host/x.git", "https://host/x.git"),
            ("https://host/a@b/x.git", "https://host/a@b/x.git"),
            ("ssh://git@host/x.git", "ssh://git@host/x.git"),
            ("ssh://me:pw@host:22/x.git", "ssh://me@host:22/x.git"),
            ("git@github.com:lab/x.git", "git@github.com:lab/x.git"),
            ("/srv/git/x.git", "/srv/git/x.git"),
            ("file:///srv/git/x.git", "file:///srv/git/x.git"),
        ];
        for (url, stripped) in cases {
            assert_eq!(strip_credentials(url.to_string()), stripped, "{url}");
        }
    }

    /// Issue 12: `for-each-ref`'s upstream and track fields.
    #[test]
    fn upstream_and_distance_are_read() {
        let up = |name: &str, ahead, behind| {
            Some(Upstream {
                name: name.into(),
                ahead,
                behind,
            })
        };
        assert_eq!(
            upstream("origin/main\0ahead 3, behind 2"),
            up("origin/main", 3, 2)
        );
        assert_eq!(upstream("origin/main\0behind 7"), up("origin/main", 0, 7));
        assert_eq!(upstream("origin/main\0"), up("origin/main", 0, 0));
        assert_eq!(upstream("origin/main\0gone"), None);
        assert_eq!(upstream("\0"), None);
        let config = "remote.fork.url\nhttps://a/fork.git\0remote.origin.url\nhttps://a/x.git\0";
        assert_eq!(pick_remote(config).as_deref(), Some("https://a/x.git"));
        assert_eq!(
            pick_remote("remote.fork.url\nhttps://a/fork.git\0").as_deref(),
            Some("https://a/fork.git")
        );
    }
}
