//! Delivery restrictions per region, set by federation staff.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use jinguo_common::invalid::{self, Field};
use jinguo_order::region::Level;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::AppError;
use crate::pages::{Req, View, done_notice, form_failure, label, render, with_status};
use crate::views::when;
use crate::web::{CsrfForm, PageUser, require_staff};

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

#[derive(Serialize)]
struct RestrictionRow {
    region_code: String,
    region_name: String,
    level: &'static str,
    level_label: String,
    notice: String,
    updated_at: String,
}

#[derive(Serialize)]
struct LevelOption {
    value: &'static str,
    label: String,
}

#[derive(Serialize, Deserialize, Default)]
pub struct RestrictionForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    notice: String,
}

#[derive(Serialize)]
struct RestrictionsPage {
    restrictions: Vec<RestrictionRow>,
    levels: Vec<LevelOption>,
    form: RestrictionForm,
    error: Option<String>,
}

async fn restrictions_view(
    state: &AppState,
    req: &Req,
    form: RestrictionForm,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let lang = req.lang;
    let restrictions = state
        .orders
        .restrictions()
        .await?
        .into_iter()
        .map(|r| RestrictionRow {
            level: r.level.as_str(),
            level_label: label(state, lang, "levels", r.level.as_str()),
            region_code: r.region_code,
            region_name: r.region_name,
            notice: r.notice,
            updated_at: when(r.updated_at),
        })
        .collect();
    let levels = Level::ALL
        .iter()
        .map(|l| LevelOption {
            value: l.as_str(),
            label: label(state, lang, "levels", l.as_str()),
        })
        .collect();
    let body = RestrictionsPage {
        restrictions,
        levels,
        form,
        error,
    };
    let t = state.i18n.locale(lang);
    let mut view = View::personal(
        "staff_restrictions.html",
        t.get("staff.restrictions_title").to_owned(),
        body,
    );
    view.notice = notice;
    render(state, req, view)
}

pub async fn restrictions(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let notice = done_notice(&state, req.lang, q.done.as_deref());
    restrictions_view(&state, &req, RestrictionForm::default(), notice, None).await
}

pub async fn set_restriction(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    CsrfForm(form): CsrfForm<RestrictionForm>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let result = match invalid::choice::<Level>(Field::Level, &form.level) {
        Ok(level) => state
            .orders
            .set_restriction(form.code.trim(), level, form.notice.trim(), user.id)
            .await
            .map_err(AppError::from),
        Err(error) => Err(error.into()),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/staff/restrictions?done=restriction_saved").into_response()),
        Err(error) => {
            let failure = form_failure(&state, req.lang, error)?;
            Ok(with_status(
                restrictions_view(&state, &req, form, None, Some(failure.text)).await?,
                failure.status,
            ))
        }
    }
}
