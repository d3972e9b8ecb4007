-- Veterinary model from seed 000 (Vetspire, "Scaling Past Joins"):
-- patients get medications, immunizations and order items; each names a product,
-- and a product has a reminder interval that makes the next due date.
-- Plain SQL, no extension calls. Load with: psql -f schema.sql

CREATE TABLE locations (
  id   bigint PRIMARY KEY,
  name text NOT NULL
);

CREATE TABLE patients (
  id          bigint PRIMARY KEY,
  location_id bigint NOT NULL REFERENCES locations,
  name        text NOT NULL
);
CREATE INDEX patients_location_id_idx ON patients (location_id);

CREATE TABLE products (
  id                bigint PRIMARY KEY,
  name              text NOT NULL,
  reminder_interval interval          -- NULL: no reminder for this product
);

CREATE TABLE medications (
  id         bigserial PRIMARY KEY,
  patient_id bigint NOT NULL,
  product_id bigint NOT NULL,
  given_at   timestamptz NOT NULL
);
CREATE INDEX medications_patient_id_idx ON medications (patient_id);
CREATE INDEX medications_product_id_idx ON medications (product_id);

CREATE TABLE immunizations (
  id         bigserial PRIMARY KEY,
  patient_id bigint NOT NULL,
  product_id bigint NOT NULL,
  given_at   timestamptz NOT NULL
);
CREATE INDEX immunizations_patient_id_idx ON immunizations (patient_id);
CREATE INDEX immunizations_product_id_idx ON immunizations (product_id);

CREATE TABLE order_items (
  id         bigserial PRIMARY KEY,
  patient_id bigint NOT NULL,
  product_id bigint NOT NULL,
  ordered_at timestamptz NOT NULL
);
CREATE INDEX order_items_patient_id_idx ON order_items (patient_id);
CREATE INDEX order_items_product_id_idx ON order_items (product_id);
