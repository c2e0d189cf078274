// Makes MongoDB ready for the services, idempotently: initiates the single-node replica set if it
// is not yet, waits for it to have a primary, then creates (or updates the password of) one user
// per <NAME>_DB_PASSWORD variable, with readWrite on database <name> only. Run on every deploy by
// Job mongo-init (Kubernetes) and by the one-shot service mongo-init (compose):
//   mongosh --nodb --quiet --norc --file mongo-init.js
// Environment: MONGO_URL (mongodb://<member host:port>/?directConnection=true, the member's name
// as the services reach it), MONGO_REPLICA_SET, MONGO_ROOT_USERNAME, MONGO_ROOT_PASSWORD,
// MONGO_INIT_WAIT_SECONDS (default 600), and the <NAME>_DB_PASSWORD variables.

function setting(name) {
  const value = process.env[name];
  if (!value) {
    print('mongo-init: ' + name + ' is not set');
    quit(2);
  }
  return value;
}

const url = setting('MONGO_URL');
const member = /^mongodb:\/\/([^/?]+)/.exec(url)[1];
const replicaSet = setting('MONGO_REPLICA_SET');
const rootUser = setting('MONGO_ROOT_USERNAME');
const rootPassword = setting('MONGO_ROOT_PASSWORD');
const waitSeconds = Number(process.env.MONGO_INIT_WAIT_SECONDS || 600);

// Retries `attempt` until it returns without throwing, for at most waitSeconds.
function retry(what, attempt) {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    try {
      return attempt();
    } catch (err) {
      if (Date.now() > deadline) {
        print('mongo-init: gave up waiting for ' + what + ': ' + err.message);
        quit(1);
      }
      print('mongo-init: waiting for ' + what + ': ' + err.message);
      sleep(2000);
    }
  }
}

// A command's reply, whether the shell throws on an error reply or returns it.
function command(database, body) {
  try {
    return database.runCommand(body);
  } catch (err) {
    return { ok: 0, code: err.code, codeName: err.codeName, errmsg: err.message };
  }
}

// Refused until the entrypoint has created the root user and restarted mongod on every interface.
// A refused connection fails after 5 s, not the driver's 30, so the loop keeps its pace.
const quickUrl = url + (url.indexOf('?') < 0 ? '?' : '&') + 'serverSelectionTimeoutMS=5000';
const admin = retry(member + ' to accept the root user', function () {
  const database = new Mongo(quickUrl).getDB('admin');
  const reply = database.auth(rootUser, rootPassword);
  if (reply && reply.ok === 0) {
    throw new Error('authentication failed');
  }
  database.runCommand({ ping: 1 });
  return database;
});

const NOT_YET_INITIALIZED = 94;
const ALREADY_INITIALIZED = 23;
const status = command(admin, { replSetGetStatus: 1 });
if (status.ok !== 1) {
  if (status.code !== NOT_YET_INITIALIZED) {
    print('mongo-init: replSetGetStatus failed: ' + status.errmsg);
    quit(1);
  }
  const reply = command(admin, { replSetInitiate: { _id: replicaSet, members: [{ _id: 0, host: member }] } });
  if (reply.ok !== 1 && reply.code !== ALREADY_INITIALIZED) {
    print('mongo-init: replSetInitiate failed: ' + reply.errmsg);
    quit(1);
  }
  print('mongo-init: initiated replica set ' + replicaSet + ' with member ' + member);
}

retry('a writable primary of ' + replicaSet, function () {
  const hello = admin.runCommand({ hello: 1 });
  if (!hello.isWritablePrimary || hello.setName !== replicaSet) {
    throw new Error('not the primary yet');
  }
});

const names = Object.keys(process.env).filter(function (key) {
  return /^[A-Z][A-Z0-9]*_DB_PASSWORD$/.test(key);
}).sort();
names.forEach(function (key) {
  const name = key.slice(0, -'_DB_PASSWORD'.length).toLowerCase();
  const database = admin.getSiblingDB(name);
  const roles = [{ role: 'readWrite', db: name }];
  if (database.getUser(name)) {
    database.updateUser(name, { pwd: process.env[key], roles: roles });
    print('mongo-init: user ' + name + ' updated');
  } else {
    database.createUser({ user: name, pwd: process.env[key], roles: roles });
    print('mongo-init: user ' + name + ' created');
  }
});
print('mongo-init: ready (' + names.length + ' service users)');
