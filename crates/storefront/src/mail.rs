//! Notification emails over SMTP (lettre), when `smtp_url` is set: `smtp://[user:pass@]host[:port]`
//! to a relay on this host or the private network (the relay does TLS to the outside world).
//! Each email says the notification in Chinese, then in English, with a link to the order.

use jinguo_order::notify::{EmailSender, Notification};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

use crate::app::AppState;
use crate::i18n::Lang;

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    state: AppState,
}

impl SmtpMailer {
    /// The mailer for the shop's settings, or why the settings are wrong.
    pub fn new(state: AppState, url: &str) -> anyhow::Result<SmtpMailer> {
        let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?;
        if parsed.scheme() != "smtp" {
            anyhow::bail!(
                "smtp_url must start with smtp:// (a relay; TLS is the relay's job), not {}://",
                parsed.scheme()
            );
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("smtp_url has no host"))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(parsed.port().unwrap_or(25))
            .timeout(Some(Duration::from_secs(20)));
        if !parsed.username().is_empty() {
            let user = percent_decode(parsed.username());
            let password = percent_decode(parsed.password().unwrap_or(""));
            builder = builder.credentials(Credentials::new(user, password));
        }
        let from: Mailbox = state
            .settings
            .mail
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail_from “{}”: {e}", state.settings.mail.from))?;
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
            state,
        })
    }

    fn text(&self, lang: Lang, n: &Notification) -> String {
        crate::views::notification_text(self.state.i18n.locale(lang), n)
    }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl EmailSender for SmtpMailer {
    async fn send(&self, to: &str, n: &Notification) -> Result<(), String> {
        let zh = self.text(Lang::Zh, n);
        let en = self.text(Lang::En, n);
        let site = self.state.i18n.locale(Lang::Zh).get("site.name").to_owned();
        let link = n
            .order_id
            .map(|id| format!("\n\n{}/orders/{id}", self.state.settings.server.base_url()))
            .unwrap_or_default();
        let body = format!("{zh}\n{en}{link}\n\n— {site}\n");
        let to: Mailbox = to.parse().map_err(|e| format!("address {to}: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(format!("{site}：{zh}"))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
