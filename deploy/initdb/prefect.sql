-- The Prefect server's own database, beside jingyu's warehouse (first start of the db service).
CREATE DATABASE prefect OWNER jingyu;
