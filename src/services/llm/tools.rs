//! The tools the model may call. Price lookup and clinic info answer from the same in-memory
//! data as the fast path (so the model never needs to invent a price); scheduling a follow-up
//! and handing off to staff are recorded as effects and stored with the reply, in its
//! transaction.

use crate::cache::ClinicPrices;
use crate::clients::llm::{FunctionSpec, Tool, ToolCall};
use crate::domain::clinic::ClinicFacts;
use crate::domain::money::format_price;
use crate::router::{PriceMatch, Router};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// A follow-up the model asked for: when, and the words to send then.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowupRequest {
    pub due_at: DateTime<Utc>,
    pub message: String,
}

/// What the model's tool calls asked to happen, applied when the reply is stored.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Effects {
    pub handoff: Option<(&'static str, bool)>,
    pub followups: Vec<FollowupRequest>,
}

/// The tools offered to the model. `followup_hours` is the latest a follow-up can be sent
/// (see [`followup_hours`]).
pub fn specs(followup_hours: f64) -> Vec<Tool> {
    let tool = |name, description, parameters| Tool {
        kind: "function",
        function: FunctionSpec {
            name,
            description,
            parameters,
        },
    };
    vec![
        tool(
            "price_lookup",
            "Prices from the clinic's price list. Give the service as the patient named it; \
             an empty service returns the whole list.",
            json!({"type": "object", "properties": {"service": {"type": "string"}},
                   "required": ["service"], "additionalProperties": false}),
        ),
        tool(
            "clinic_info",
            "The clinic's name, address, phone, opening hours and list of services.",
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        ),
        tool(
            "schedule_followup",
            "Write to the patient again later (for example to offer booking). The message is sent \
             as written, in the patient's language; it is cancelled if the patient writes first.",
            json!({"type": "object", "properties": {
                    "in_hours": {"type": "number", "description": followup_range(followup_hours)},
                    "message": {"type": "string", "description": "the exact words to send then"}},
                   "required": ["in_hours", "message"], "additionalProperties": false}),
        ),
        tool(
            "handoff_to_staff",
            "Pass the chat to a clinic administrator.",
            json!({"type": "object", "properties": {
                    "reason": {"type": "string", "enum": ["booking", "human", "emergency", "other"]},
                    "urgent": {"type": "boolean"}},
                   "required": ["reason", "urgent"], "additionalProperties": false}),
        ),
    ]
}

pub struct ToolContext<'a> {
    pub router: &'a Router,
    pub prices: &'a ClinicPrices,
    pub clinic: &'a ClinicFacts,
    pub language: &'a str,
    pub now: DateTime<Utc>,
    /// The latest a follow-up can go out, in hours from now ([`followup_hours`]).
    pub followup_hours: f64,
}

/// How far ahead the model may schedule a follow-up in this chat. WhatsApp takes free text
/// only within 24 hours of the patient's last message (which the model is answering now), so
/// at most `window::longest_delay()`; past that only a Cloud API template goes out, and only
/// if the clinic configured one for the model's follow-ups (kind `nudge`). Without this limit
/// the tool said "scheduled" for a message that was then never sent.
pub fn followup_hours(template_past_window: bool) -> f64 {
    if template_past_window {
        720.0
    } else {
        crate::domain::window::longest_delay().num_minutes() as f64 / 60.0
    }
}

fn followup_range(max: f64) -> String {
    if max >= 720.0 {
        "hours from now, 1 to 720".into()
    } else {
        format!(
            "hours from now, 1 to {max}: WhatsApp delivers free text only within 24 hours of the \
             patient's last message"
        )
    }
}

/// Runs one tool call; returns the JSON text given back to the model.
pub fn execute(ctx: &ToolContext<'_>, effects: &mut Effects, call: &ToolCall) -> String {
    let args: Value = serde_json::from_str(&call.function.arguments).unwrap_or(Value::Null);
    let result = match call.function.name.as_str() {
        "price_lookup" => price_lookup(ctx, args["service"].as_str().unwrap_or("")),
        "clinic_info" => clinic_info(ctx),
        "schedule_followup" => match (args["in_hours"].as_f64(), args["message"].as_str()) {
            (Some(h), Some(message))
                if (1.0..=ctx.followup_hours).contains(&h) && !message.trim().is_empty() =>
            {
                effects.followups.push(FollowupRequest {
                    due_at: ctx.now + Duration::minutes((h * 60.0).round() as i64),
                    message: message.trim().chars().take(1000).collect(),
                });
                json!({"scheduled": true})
            }
            _ => json!({"error": format!(
                "in_hours must be {} and message is required; nothing was scheduled",
                followup_range(ctx.followup_hours)
            )}),
        },
        "handoff_to_staff" => {
            let reason = match args["reason"].as_str() {
                Some("booking") => "booking",
                Some("emergency") => "emergency",
                Some("human") => "human",
                _ => "other",
            };
            let urgent = args["urgent"].as_bool().unwrap_or(false) || reason == "emergency";
            effects.handoff = Some((reason, urgent));
            json!({"handed_off": true})
        }
        other => json!({"error": format!("no tool named {other}")}),
    };
    result.to_string()
}

fn priced(ctx: &ToolContext<'_>, id: &str) -> Option<Value> {
    let s = ctx.prices.services.iter().find(|s| s.id == id)?;
    Some(json!({"service": s.name_in(ctx.language),
               "price": format_price(s.price_minor, &s.currency, ctx.language)}))
}

fn whole_list(ctx: &ToolContext<'_>) -> Vec<Value> {
    ctx.prices
        .services
        .iter()
        .take(60)
        .filter_map(|s| priced(ctx, &s.id))
        .collect()
}

fn price_lookup(ctx: &ToolContext<'_>, service: &str) -> Value {
    if service.trim().is_empty() {
        return json!({"price_list": whole_list(ctx)});
    }
    let u = ctx.router.understand_price_query(
        service,
        Some(ctx.language),
        &ctx.clinic.default_language,
        &ctx.prices.index,
    );
    match &u.price {
        PriceMatch::One(id) => json!({"found": [priced(ctx, id)]}),
        PriceMatch::Ambiguous(ids) => {
            json!({"found": ids.iter().filter_map(|id| priced(ctx, id)).collect::<Vec<_>>(),
                   "note": "several services match; ask which one, or list them"})
        }
        PriceMatch::Several(ids) => {
            json!({"found": ids.iter().filter_map(|id| priced(ctx, id)).collect::<Vec<_>>()})
        }
        PriceMatch::NotOffered(what) => json!({"not_on_the_price_list": what}),
        PriceMatch::Nearest(id, what) => {
            json!({"not_on_the_price_list": what, "closest": [priced(ctx, id)]})
        }
        PriceMatch::None => json!({"no_match": service, "price_list": whole_list(ctx)}),
    }
}

fn clinic_info(ctx: &ToolContext<'_>) -> Value {
    let c = ctx.clinic;
    json!({
        "name": c.name,
        "address": c.address,
        "phone": c.phone,
        "opening_hours": c.hours.days.iter().zip(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
            .map(|(ranges, day)| (day.to_owned(), Value::from(ranges.iter()
                .map(|(a, b)| format!("{}-{}", a.format("%H:%M"), b.format("%H:%M")))
                .collect::<Vec<_>>())))
            .collect::<serde_json::Map<String, Value>>(),
        "services": ctx.prices.services.iter().map(|s| s.name_in(ctx.language)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod followup_limit_tests {
    use super::*;

    #[test]
    fn follow_ups_stay_inside_whatsapps_window_unless_a_template_carries_them() {
        assert_eq!(followup_hours(false), 23.75);
        assert_eq!(followup_hours(true), 720.0);
        let offered = |max| serde_json::to_string(&specs(max)).unwrap();
        assert!(offered(23.75).contains("1 to 23.75: WhatsApp"));
        assert!(offered(720.0).contains("1 to 720"));
    }
}
