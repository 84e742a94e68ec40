//! plugin_demo (behaviour §8.2): logs one line per message, with `plugin_demo_string`.

use super::{BuildError, Ctx, Decision, Plugin};
use crate::config::Config;

#[derive(Debug)]
pub struct Demo {
    text: String,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    Ok(Box::new(Demo {
        text: cfg.plugins.plugin_demo_string.clone().unwrap_or_default(),
    }))
}

/// The log line of one message: `plugin_demo: <method or status> from <source> <text>`,
/// written straight into the log record.
struct Line<'a>(&'a Ctx<'a, 'a>, &'a str);

impl std::fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Line(ctx, text) = self;
        f.write_str("plugin_demo: ")?;
        match (ctx.msg.method(), ctx.msg.status_code()) {
            (Some(m), _) => write!(f, "{}", crate::logging::Lossy(m))?,
            (None, Some(c)) => write!(f, "{c}")?,
            (None, None) => f.write_str("?")?,
        }
        write!(f, " from {} {text}", ctx.origin.src)
    }
}

impl Plugin for Demo {
    fn name(&self) -> &'static str {
        "demo"
    }

    fn determine_target(&mut self, ctx: &Ctx<'_, '_>) -> Decision<'_> {
        log::info!("{}", Line(ctx, &self.text));
        Decision::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::tests::ctx_for;

    #[test]
    fn one_line_per_message_with_the_configured_text() {
        let cfg = Config {
            load_plugin: vec!["demo".into()],
            plugins: crate::config::PluginConfig {
                plugin_demo_string: Some("hello".into()),
                ..Default::default()
            },
            ..Config::default()
        };
        let mut p = Demo {
            text: cfg.plugins.plugin_demo_string.clone().unwrap(),
        };
        ctx_for("BYE sip:b@h SIP/2.0", |ctx| {
            assert_eq!(
                Line(ctx, &p.text).to_string(),
                "plugin_demo: BYE from 192.168.1.10:5060 hello"
            );
            assert_eq!(p.determine_target(ctx), Decision::Continue);
        });
    }
}
