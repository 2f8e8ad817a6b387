//! Files attached to applications (`application_materials`): sealed bytes plus what can be shown
//! without opening them (item, format, size, SM3, when and by whom). Rows are only ever added.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::application_materials as m;

/// A stored file without its bytes.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = m)]
pub struct FileRow {
    pub id: i64,
    pub division: String,
    pub business_no: String,
    pub material_id: String,
    pub format: String,
    pub size_bytes: i64,
    pub sm3: String,
    pub uploaded_by: String,
    pub uploaded_at: NaiveDateTime,
}

/// A file to store; `content` is already sealed under [`context`].
pub struct NewFile<'a> {
    pub division: &'a str,
    pub business_no: &'a str,
    pub material_id: &'a str,
    pub format: &'a str,
    pub size_bytes: i64,
    pub sm3: &'a str,
    pub content: &'a str,
    pub uploaded_by: &'a str,
    pub uploaded_at: NaiveDateTime,
}

/// The associated data a file is sealed with: its application, item and hash (a ciphertext moved
/// to another application or item does not open).
pub fn context(business_no: &str, material_id: &str, sm3: &str) -> String {
    format!("material:{business_no}:{material_id}:{sm3}")
}

/// Every file of an application, oldest first.
pub fn list(conn: &mut AnyConnection, division: &str, business_no: &str) -> QueryResult<Vec<FileRow>> {
    m::table
        .filter(m::division.eq(division))
        .filter(m::business_no.eq(business_no))
        .order(m::id.asc())
        .select(FileRow::as_select())
        .load(conn)
}

/// The checklist items of an application that hold at least one file.
pub fn items_with_files(conn: &mut AnyConnection, division: &str, business_no: &str) -> QueryResult<Vec<String>> {
    m::table
        .filter(m::division.eq(division))
        .filter(m::business_no.eq(business_no))
        .select(m::material_id)
        .distinct()
        .load(conn)
}

/// How many files an item of an application holds.
pub fn count_for_item(
    conn: &mut AnyConnection,
    division: &str,
    business_no: &str,
    material_id: &str,
) -> QueryResult<i64> {
    m::table
        .filter(m::division.eq(division))
        .filter(m::business_no.eq(business_no))
        .filter(m::material_id.eq(material_id))
        .count()
        .get_result(conn)
}

pub fn insert(conn: &mut AnyConnection, f: &NewFile<'_>) -> QueryResult<FileRow> {
    let id: i64 = diesel::insert_into(m::table)
        .values((
            m::division.eq(f.division),
            m::business_no.eq(f.business_no),
            m::material_id.eq(f.material_id),
            m::format.eq(f.format),
            m::size_bytes.eq(f.size_bytes),
            m::sm3.eq(f.sm3),
            m::content.eq(f.content),
            m::uploaded_by.eq(f.uploaded_by),
            m::uploaded_at.eq(f.uploaded_at),
        ))
        .returning(m::id)
        .get_result(conn)?;
    m::table.filter(m::id.eq(id)).select(FileRow::as_select()).first(conn)
}

/// One file of an application's item, with its sealed bytes.
pub fn get_with_content(
    conn: &mut AnyConnection,
    division: &str,
    business_no: &str,
    material_id: &str,
    file_id: i64,
) -> QueryResult<Option<(FileRow, String)>> {
    m::table
        .filter(m::id.eq(file_id))
        .filter(m::division.eq(division))
        .filter(m::business_no.eq(business_no))
        .filter(m::material_id.eq(material_id))
        .select((FileRow::as_select(), m::content))
        .first(conn)
        .optional()
}
