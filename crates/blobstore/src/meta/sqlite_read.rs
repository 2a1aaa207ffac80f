//! The reading queries of the SQLite metadata store (BEP 3 / BEP 52 torrents, Blossom owners):
//! a file row by sha256, and the torrent, chunks and owners hanging off its id.
//!
//! They take a `&Connection` so that a caller can run several inside one transaction (one
//! snapshot: a reader never sees a file without the chunks committed with it).

use rusqlite::{Connection, OptionalExtension};

use crate::meta::sqlite_rows::{FILE_COLUMNS, FileRow, TORRENT_COLUMNS, TorrentRow, chunk, pubkey};
use crate::meta::{ChunkRecord, FileRecord, MetaError, TorrentRecord, Upload};
use swarmgate_core::{Pubkey, Sha256};

/// The `files` row with this sha256.
pub(crate) fn file_row(conn: &Connection, sha256: &Sha256) -> Result<Option<FileRow>, MetaError> {
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE sha256 = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([&sha256.0[..]], FileRow::read)
        .optional()?)
}

/// The id of the file with this sha256, or [`MetaError::NotFound`].
pub(crate) fn file_id(conn: &Connection, sha256: &Sha256) -> Result<i64, MetaError> {
    conn.prepare_cached("SELECT id FROM files WHERE sha256 = ?1")?
        .query_row([&sha256.0[..]], |row| row.get(0))
        .optional()?
        .ok_or(MetaError::NotFound { sha256: *sha256 })
}

/// The torrent of file `id`: every file has one, so its absence is corruption.
pub(crate) fn torrent_of(conn: &Connection, id: i64) -> Result<TorrentRecord, MetaError> {
    let sql = format!("SELECT {TORRENT_COLUMNS} FROM torrents WHERE file_id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([id], TorrentRow::read)
        .optional()?
        .ok_or_else(|| MetaError::corrupt(format!("files row {id} has no torrent")))?
        .decode(id)
}

/// The chunks of file `id`, by index.
pub(crate) fn chunks_of(conn: &Connection, id: i64) -> Result<Vec<ChunkRecord>, MetaError> {
    let mut stmt = conn
        .prepare_cached("SELECT idx, sha256, size FROM chunks WHERE file_id = ?1 ORDER BY idx")?;
    let mut rows = stmt.query([id])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let sha256: Vec<u8> = row.get(1)?;
        out.push(chunk(id, row.get(0)?, &sha256, row.get(2)?)?);
    }
    Ok(out)
}

/// The owners of file `id`, sorted.
pub(crate) fn owners_of(conn: &Connection, id: i64) -> Result<Vec<Pubkey>, MetaError> {
    let mut stmt =
        conn.prepare_cached("SELECT pubkey FROM blob_owners WHERE file_id = ?1 ORDER BY pubkey")?;
    let mut rows = stmt.query([id])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let bytes: Vec<u8> = row.get(0)?;
        out.push(pubkey(id, &bytes)?);
    }
    Ok(out)
}

/// Everything about the file of `row`.
pub(crate) fn upload_of(conn: &Connection, row: FileRow) -> Result<Upload, MetaError> {
    let id = row.id;
    Ok(Upload {
        file: row.decode()?,
        torrent: torrent_of(conn, id)?,
        chunks: chunks_of(conn, id)?,
        owners: owners_of(conn, id)?,
    })
}

/// The files an SQL query over `files` (and joins) with one parameter finds, in its order.
pub(crate) fn files_where(
    conn: &Connection,
    sql: &str,
    param: impl rusqlite::Params,
) -> Result<Vec<FileRecord>, MetaError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(param, FileRow::read)?;
    rows.map(|row| row.map_err(MetaError::from).and_then(FileRow::decode))
        .collect()
}

/// The file whose torrent has `value` in `column`.
pub(crate) fn file_by_column(
    conn: &Connection,
    column: &str,
    value: &[u8],
) -> Result<Option<FileRecord>, MetaError> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM torrents JOIN files ON files.id = torrents.file_id \
         WHERE torrents.{column} = ?1 ORDER BY files.id LIMIT 1"
    );
    Ok(files_where(conn, &sql, [value])?.into_iter().next())
}
