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

impl Demo {
    fn line(&self, ctx: &Ctx<'_, '_>) -> String {
        let what = match (ctx.msg.method(), ctx.msg.status_code()) {
            (Some(m), _) => String::from_utf8_lossy(m).into_owned(),
            (None, Some(c)) => c.to_string(),
            (None, None) => "?".to_string(),
        };
        format!("plugin_demo: {what} from {} {}", ctx.origin.src, self.text)
    }
}

impl Plugin for Demo {
    fn name(&self) -> &'static str {
        "demo"
    }

    fn determine_target(&mut self, ctx: &Ctx<'_, '_>) -> Decision {
        log::info!("{}", self.line(ctx));
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
            assert_eq!(p.line(ctx), "plugin_demo: BYE from 192.168.1.10:5060 hello");
            assert_eq!(p.determine_target(ctx), Decision::Continue);
        });
    }
}
