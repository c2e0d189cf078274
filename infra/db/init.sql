-- One database and one login role per service that keeps its data in PostgreSQL, each role owning
-- its database and no other role able to connect to it. Run once by the postgres image on an empty
-- volume, as the superuser; the passwords come from the environment (Secret postgres-credentials
-- in Kubernetes, .env in compose). A database named in a service's DATABASE_URL must be created
-- here (scripts/lint-deploy.sh checks).
\set ON_ERROR_STOP on
\getenv users_password USERS_DB_PASSWORD
\getenv products_password PRODUCTS_DB_PASSWORD

CREATE ROLE users LOGIN PASSWORD :'users_password';
CREATE DATABASE users OWNER users;
REVOKE ALL ON DATABASE users FROM PUBLIC;

CREATE ROLE products LOGIN PASSWORD :'products_password';
CREATE DATABASE products OWNER products;
REVOKE ALL ON DATABASE products FROM PUBLIC;
