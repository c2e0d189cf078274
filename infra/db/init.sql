-- One database per service that keeps its data in PostgreSQL. Runs once, on an empty volume.
CREATE DATABASE users;
CREATE DATABASE products;
