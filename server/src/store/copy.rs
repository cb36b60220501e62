//! PostgreSQL's binary COPY format, written a row at a time: the header, each row's field
//! count, each field as its length and bytes (-1 for NULL), the trailer.

use super::PG_EPOCH_OFFSET_US;

pub struct BinaryRows(Vec<u8>);

impl BinaryRows {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes + 21);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes());
        buf.extend_from_slice(&0i32.to_be_bytes());
        Self(buf)
    }

    /// Starts a row of `fields` fields.
    pub fn row(&mut self, fields: i16) -> &mut Self {
        self.0.extend_from_slice(&fields.to_be_bytes());
        self
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// A `timestamptz` from microseconds since the Unix epoch.
    pub fn timestamp_us(&mut self, us: i64) -> &mut Self {
        self.i64(us - PG_EPOCH_OFFSET_US)
    }

    pub fn text(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    /// A `jsonb` field from its JSON text.
    pub fn jsonb(&mut self, json: &[u8]) -> &mut Self {
        self.0
            .extend_from_slice(&(json.len() as i32 + 1).to_be_bytes());
        self.0.push(1);
        self.0.extend_from_slice(json);
        self
    }

    /// An `int4[]` field: one dimension from 1, no nulls (no dimension when empty).
    pub fn i32_array(&mut self, values: &[i32]) -> &mut Self {
        const INT4_OID: i32 = 23;
        let dims = i32::from(!values.is_empty());
        let len = 12 + 8 * dims + 8 * values.len() as i32;
        self.0.extend_from_slice(&len.to_be_bytes());
        for word in [dims, 0, INT4_OID] {
            self.0.extend_from_slice(&word.to_be_bytes());
        }
        if dims == 1 {
            self.0
                .extend_from_slice(&(values.len() as i32).to_be_bytes());
            self.0.extend_from_slice(&1i32.to_be_bytes());
        }
        for v in values {
            self.0.extend_from_slice(&4i32.to_be_bytes());
            self.0.extend_from_slice(&v.to_be_bytes());
        }
        self
    }

    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&(v.len() as i32).to_be_bytes());
        self.0.extend_from_slice(v);
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}
