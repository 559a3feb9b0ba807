//! Images, stored once per display size so that a page downloads only the pixels it shows. The
//! pixel work (decoding with limits, turning upright, stripping metadata, resizing) is
//! `jinguo_pictures`'; call [`process`] off the async runtime.

use jinguo_common::clock::Millis;
use sqlx::{AnyConnection, Row};

pub(crate) use jinguo_pictures::hex;
pub use jinguo_pictures::{
    ImageError, MAX_PIXELS, MAX_SIDE, MAX_UPLOAD_BYTES, Processed, Size, Variant, process,
    process_picture,
};

jinguo_common::id_type!(ImageId);

/// Stores the image and its sizes, or finds the same image stored before.
pub async fn store(
    conn: &mut AnyConnection,
    image: &Processed,
    now: Millis,
) -> Result<ImageId, sqlx::Error> {
    if let Some(id) = find(conn, &image.sha256).await? {
        return Ok(id);
    }
    let id: i64 = sqlx::query_scalar(
        "insert into images (sha256, width, height, created_at) values ($1, $2, $3, $4) returning id",
    )
    .bind(&image.sha256)
    .bind(i64::from(image.width))
    .bind(i64::from(image.height))
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    for v in &image.variants {
        sqlx::query(
            "insert into image_variants (image_id, size, width, height, content_type, bytes)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(v.size.as_str())
        .bind(i64::from(v.width))
        .bind(i64::from(v.height))
        .bind(v.content_type)
        .bind(v.bytes.as_slice())
        .execute(&mut *conn)
        .await?;
    }
    Ok(ImageId(id))
}

pub async fn find(conn: &mut AnyConnection, sha256: &str) -> Result<Option<ImageId>, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar("select id from images where sha256 = $1")
        .bind(sha256)
        .fetch_optional(conn)
        .await?;
    Ok(id.map(ImageId))
}

/// The bytes of one size of an image, with their content type.
pub async fn variant(
    conn: &mut AnyConnection,
    id: ImageId,
    size: Size,
) -> Result<Option<(String, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query(
        "select content_type, bytes from image_variants where image_id = $1 and size = $2",
    )
    .bind(id.0)
    .bind(size.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((r.try_get("content_type")?, r.try_get("bytes")?)))
        .transpose()
}
